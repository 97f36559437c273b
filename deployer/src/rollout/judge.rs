//! Judging a release by its behaviour: the new color's load balancer metrics (5xx share and
//! p99 latency) over a canary step or the bake, against `deploy.judge`'s thresholds, absolute
//! and relative to the live color. Too few requests is no verdict, never a breach: a quiet
//! service (or metrics that have not arrived yet) must not undo a good release.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Color;

/// `deploy.judge`: what a release must stay within while it takes traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Highest share of the new color's requests answered 5xx, in percent.
    pub max_5xx_rate: Option<f64>,
    /// Highest excess of the new color's 5xx share over the live color's, in percentage points.
    pub max_5xx_increase: Option<f64>,
    /// Highest p99 latency of the new color.
    pub max_p99: Option<Duration>,
    /// Highest excess of the new color's p99 over the live color's, in percent of the live one.
    pub max_p99_increase: Option<f64>,
    /// Fewer requests than this in the window gives no verdict (for either color's reading).
    pub min_requests: u64,
}

/// What a color's load balancer reports for a window: requests answered, those answered 5xx,
/// and the 99th percentile of the time to the response (None when it reports none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readings {
    pub requests: u64,
    #[serde(rename = "errors_5xx")]
    pub errors: u64,
    #[serde(rename = "p99_ms", with = "milliseconds")]
    pub p99: Option<Duration>,
}

impl Readings {
    /// The 5xx share in percent; None without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }
}

impl fmt::Display for Readings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests", self.requests)?;
        if let Some(rate) = self.error_rate() {
            write!(f, ", 5xx {}", percent(rate))?;
        }
        if let Some(p99) = self.p99 {
            write!(f, ", p99 {}", latency(p99))?;
        }
        Ok(())
    }
}

/// The metric a breach is about, as `--output jsonl` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    #[serde(rename = "5xx_rate")]
    ErrorRate,
    #[serde(rename = "5xx_increase")]
    ErrorIncrease,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "p99_increase")]
    P99Increase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Within every threshold.
    Pass,
    /// Not enough to judge on (`reason` says what was missing); the release goes on.
    NoVerdict { reason: String },
    /// `reason` names the metric, both colors' values and the threshold.
    Breach { metric: Metric, reason: String },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("within thresholds"),
            Self::NoVerdict { reason } => write!(f, "no verdict ({reason})"),
            Self::Breach { reason, .. } => write!(f, "breach: {reason}"),
        }
    }
}

/// Judges `new` (the color being released) against `thresholds` and against `live` (the color
/// serving the rest of the traffic, if any and if it reported).
pub fn judge(
    thresholds: &Thresholds,
    new_color: Color,
    new: Option<Readings>,
    live_color: Option<Color>,
    live: Option<Readings>,
) -> Verdict {
    let Some(new) = new else {
        return Verdict::NoVerdict {
            reason: format!("no metrics for {new_color} yet"),
        };
    };
    if new.requests < thresholds.min_requests {
        return Verdict::NoVerdict {
            reason: format!(
                "{new_color} served {} requests, fewer than min_requests {}",
                new.requests, thresholds.min_requests
            ),
        };
    }
    // The live color is compared with only when it served enough to say something.
    let live = live
        .filter(|live| live.requests >= thresholds.min_requests.max(1))
        .zip(live_color);
    let new_rate = new.error_rate().unwrap_or(0.0);
    let live_says = |value: String| {
        live_color.map_or_else(String::new, |color| match live {
            Some(_) => format!(" ({color}: {value})"),
            None => format!(" ({color}: too few requests to compare)"),
        })
    };
    let live_rate = live.and_then(|(readings, _)| readings.error_rate());
    if let Some(max) = thresholds.max_5xx_rate
        && new_rate > max
    {
        return Verdict::Breach {
            metric: Metric::ErrorRate,
            reason: format!(
                "5xx rate of {new_color} is {} ({} of {} requests), above max_5xx_rate {}{}",
                percent(new_rate),
                new.errors,
                new.requests,
                percent(max),
                live_says(live_rate.map_or_else(String::new, percent)),
            ),
        };
    }
    if let (Some(max), Some((_, live_color)), Some(live_rate)) =
        (thresholds.max_5xx_increase, live, live_rate)
        && new_rate - live_rate > max
    {
        return Verdict::Breach {
            metric: Metric::ErrorIncrease,
            reason: format!(
                "5xx rate of {new_color} is {}, {} points above {live_color}'s {}, more than max_5xx_increase {}",
                percent(new_rate),
                points(new_rate - live_rate),
                percent(live_rate),
                percent(max),
            ),
        };
    }
    let live_p99 = live.and_then(|(readings, _)| readings.p99);
    if let (Some(max), Some(p99)) = (thresholds.max_p99, new.p99)
        && p99 > max
    {
        return Verdict::Breach {
            metric: Metric::P99,
            reason: format!(
                "p99 latency of {new_color} is {}, above max_p99 {}{}",
                latency(p99),
                latency(max),
                live_says(live_p99.map_or_else(|| "no p99".to_owned(), latency)),
            ),
        };
    }
    if let (Some(max), Some(p99), Some((_, live_color)), Some(live_p99)) =
        (thresholds.max_p99_increase, new.p99, live, live_p99)
        && !live_p99.is_zero()
    {
        let increase = (p99.as_secs_f64() / live_p99.as_secs_f64() - 1.0) * 100.0;
        if increase > max {
            return Verdict::Breach {
                metric: Metric::P99Increase,
                reason: format!(
                    "p99 latency of {new_color} is {}, {} above {live_color}'s {}, more than max_p99_increase {}",
                    latency(p99),
                    percent(increase),
                    latency(live_p99),
                    percent(max),
                ),
            };
        }
    }
    Verdict::Pass
}

/// `12.5%`, `0.25%`, `1%`: enough digits for thresholds people write.
fn percent(value: f64) -> String {
    format!("{}%", trimmed(value))
}

fn points(value: f64) -> String {
    trimmed(value)
}

fn trimmed(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// `850ms`, `1.2s`.
fn latency(value: Duration) -> String {
    let millis = value.as_secs_f64() * 1000.0;
    if millis < 1000.0 {
        format!("{}ms", trimmed(millis))
    } else {
        format!("{}s", trimmed(millis / 1000.0))
    }
}

/// An optional duration as milliseconds (fractional), as `--output jsonl` carries latencies.
mod milliseconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_f64(duration.as_secs_f64() * 1000.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let millis = Option::<f64>::deserialize(d)?;
        Ok(millis
            .filter(|millis| millis.is_finite() && *millis >= 0.0)
            .map(|millis| Duration::from_secs_f64(millis / 1000.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds() -> Thresholds {
        Thresholds {
            max_5xx_rate: Some(1.0),
            max_5xx_increase: Some(0.5),
            max_p99: Some(Duration::from_millis(500)),
            max_p99_increase: Some(50.0),
            min_requests: 20,
        }
    }

    fn readings(requests: u64, errors: u64, p99_ms: u64) -> Option<Readings> {
        Some(Readings {
            requests,
            errors,
            p99: Some(Duration::from_millis(p99_ms)),
        })
    }

    fn verdict(new: Option<Readings>, live: Option<Readings>) -> Verdict {
        judge(&thresholds(), Color::Green, new, Some(Color::Blue), live)
    }

    /// The breached metric and the reason given, for readings that must breach.
    fn breach(new: Option<Readings>, live: Option<Readings>) -> (Metric, String) {
        match verdict(new, live) {
            Verdict::Breach { metric, reason } => (metric, reason),
            other => panic!("expected a breach, got {other:?}"),
        }
    }

    #[test]
    fn a_release_within_every_threshold_passes() {
        assert_eq!(
            verdict(readings(1000, 3, 120), readings(1000, 2, 100)),
            Verdict::Pass
        );
    }

    #[test]
    fn a_high_5xx_rate_names_the_metric_both_values_and_the_threshold() {
        let (metric, reason) = breach(readings(400, 50, 100), readings(400, 1, 100));
        assert_eq!(metric, Metric::ErrorRate);
        assert_eq!(
            reason,
            "5xx rate of green is 12.5% (50 of 400 requests), above max_5xx_rate 1% (blue: 0.25%)"
        );
    }

    #[test]
    fn a_5xx_rate_below_the_maximum_can_still_be_too_far_above_the_live_one() {
        let (metric, reason) = breach(readings(1000, 9, 100), readings(1000, 1, 100));
        assert_eq!(metric, Metric::ErrorIncrease);
        assert!(
            reason.contains("0.9%, 0.8 points above blue's 0.1%"),
            "{reason}"
        );
        assert!(reason.contains("max_5xx_increase 0.5%"), "{reason}");
    }

    #[test]
    fn a_slow_p99_breaches_absolutely_or_relative_to_the_live_color() {
        let (metric, reason) = breach(readings(100, 0, 800), readings(100, 0, 100));
        assert_eq!(metric, Metric::P99);
        assert_eq!(
            reason,
            "p99 latency of green is 800ms, above max_p99 500ms (blue: 100ms)"
        );
        let (metric, reason) = breach(readings(100, 0, 400), readings(100, 0, 200));
        assert_eq!(metric, Metric::P99Increase);
        assert!(
            reason.contains("400ms, 100% above blue's 200ms"),
            "{reason}"
        );
    }

    #[test]
    fn too_few_requests_is_no_verdict_not_a_breach() {
        let verdict = verdict(readings(5, 5, 2000), readings(1000, 0, 100));
        assert_eq!(
            verdict,
            Verdict::NoVerdict {
                reason: "green served 5 requests, fewer than min_requests 20".into()
            }
        );
        assert!(matches!(
            super::judge(&thresholds(), Color::Green, None, None, None),
            Verdict::NoVerdict { .. }
        ));
    }

    #[test]
    fn a_quiet_live_color_is_not_compared_with() {
        // 0.9% passes max_5xx_rate; the increase rule needs a live reading worth comparing.
        assert_eq!(
            verdict(readings(1000, 9, 400), readings(3, 0, 100)),
            Verdict::Pass
        );
        let (_, reason) = breach(readings(100, 50, 100), readings(3, 0, 100));
        assert!(
            reason.ends_with("(blue: too few requests to compare)"),
            "{reason}"
        );
    }

    #[test]
    fn absent_thresholds_are_not_checked() {
        let only_rate = Thresholds {
            max_5xx_increase: None,
            max_p99: None,
            max_p99_increase: None,
            ..thresholds()
        };
        assert_eq!(
            judge(
                &only_rate,
                Color::Green,
                readings(100, 0, 90_000),
                None,
                None
            ),
            Verdict::Pass
        );
    }

    #[test]
    fn readings_read_as_json_with_units_in_their_names() {
        let json = serde_json::to_value(readings(40, 2, 250)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"requests": 40, "errors_5xx": 2, "p99_ms": 250.0})
        );
        let back: Readings = serde_json::from_value(json).expect("back");
        assert_eq!(Some(back), readings(40, 2, 250));
    }
}
