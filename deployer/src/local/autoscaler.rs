//! Request-count target tracking, the rule AWS applies to `ALBRequestCountPerTarget`:
//! desired = ceil(requests per minute / target per instance), within [min, max]. Scale-out
//! waits `scale_out_cooldown` after the last scale-out; scale-in waits `scale_in_cooldown`
//! after any scaling activity, so capacity is added quickly and removed cautiously.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::service::ServiceRuntime;
use crate::spec::Scaling;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub min: u32,
    pub max: u32,
    pub requests_per_target: u32,
    pub scale_out_cooldown: Duration,
    pub scale_in_cooldown: Duration,
}

impl Policy {
    /// The service's `scaling:` section, as the autoscaler applies it.
    pub fn from_spec(scaling: &Scaling) -> Self {
        Self {
            min: scaling.min,
            max: scaling.max,
            requests_per_target: scaling.requests_per_target,
            scale_out_cooldown: scaling.scale_out_cooldown.0,
            scale_in_cooldown: scaling.scale_in_cooldown.0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub last_scale_out: Option<Instant>,
    pub last_activity: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Hold,
    /// Wanted to change but a cooldown is running.
    Cooling {
        wanted: u32,
        reason: String,
    },
    Scale {
        to: u32,
        reason: String,
    },
}

pub fn decide(
    policy: &Policy,
    current: u32,
    requests_per_minute: f64,
    now: Instant,
    history: &History,
) -> Decision {
    let target = f64::from(policy.requests_per_target.max(1));
    let raw = (requests_per_minute / target).ceil();
    let wanted = (raw.clamp(0.0, f64::from(u32::MAX)) as u32).clamp(policy.min, policy.max);
    let metric = if current == 0 {
        requests_per_minute
    } else {
        requests_per_minute / f64::from(current)
    };
    if current < policy.min || current > policy.max {
        return Decision::Scale {
            to: current.clamp(policy.min, policy.max),
            reason: format!(
                "{current} instances is outside the range {}..={}",
                policy.min, policy.max
            ),
        };
    }
    // Out: cooled down from the last scale-out; in: from any scaling activity.
    let (comparison, last, cooldown) = match wanted.cmp(&current) {
        std::cmp::Ordering::Equal => return Decision::Hold,
        std::cmp::Ordering::Greater => (">", history.last_scale_out, policy.scale_out_cooldown),
        std::cmp::Ordering::Less => ("<", history.last_activity, policy.scale_in_cooldown),
    };
    let reason = format!(
        "{metric:.0} requests/min per instance {comparison} target {}: {requests_per_minute:.0} requests/min needs {wanted}",
        policy.requests_per_target
    );
    match last.map(|at| now.duration_since(at)) {
        Some(elapsed) if elapsed < cooldown => Decision::Cooling { wanted, reason },
        _ => Decision::Scale { to: wanted, reason },
    }
}

/// Requests per minute over a sliding window of counter samples.
struct RateWindow {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    fn record(&mut self, now: Instant, total: u64) -> f64 {
        self.samples.push_back((now, total));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.window)
        {
            self.samples.pop_front();
        }
        match (self.samples.front(), self.samples.back()) {
            (Some((first_at, first)), Some((last_at, last))) if last_at > first_at => {
                let seconds = last_at.duration_since(*first_at).as_secs_f64();
                (last.saturating_sub(*first)) as f64 * 60.0 / seconds
            }
            _ => 0.0,
        }
    }
}

pub async fn run(
    service: Arc<ServiceRuntime>,
    policy: Policy,
    interval: Duration,
    window: Duration,
    stop: CancellationToken,
) {
    let mut rates = RateWindow {
        window,
        samples: VecDeque::new(),
    };
    let mut history = History::default();
    let mut cooling_logged = None;
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        let now = Instant::now();
        let rpm = rates.record(now, service.requests_total.load(Ordering::Relaxed));
        service
            .measured_rpm
            .store(rpm.round() as u64, Ordering::Relaxed);
        let Some(live) = service.live_color() else {
            continue;
        };
        let _guard = service.changes.lock().await;
        let current = service.count(live) as u32;
        match decide(&policy, current, rpm, now, &history) {
            Decision::Hold => cooling_logged = None,
            Decision::Cooling { wanted, reason } => {
                if cooling_logged != Some(wanted) {
                    tracing::info!(service = %service.name, current, wanted, "waiting for cooldown before scaling: {reason}");
                    cooling_logged = Some(wanted);
                }
            }
            Decision::Scale { to, reason } => {
                tracing::info!(service = %service.name, from = current, to, color = %live, "scaling: {reason}");
                if let Err(error) = service.scale(live, to as usize).await {
                    tracing::error!(service = %service.name, "scaling failed: {error}");
                    continue;
                }
                if to > current {
                    history.last_scale_out = Some(now);
                }
                history.last_activity = Some(now);
                cooling_logged = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min: 1,
            max: 4,
            requests_per_target: 100,
            scale_out_cooldown: Duration::from_secs(60),
            scale_in_cooldown: Duration::from_secs(300),
        }
    }

    /// A decision without its reason, for tables of cases.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Hold,
        CoolingToward(u32),
        ScaleTo(u32),
    }

    fn outcome(decision: Decision) -> Outcome {
        match decision {
            Decision::Hold => Outcome::Hold,
            Decision::Cooling { wanted, .. } => Outcome::CoolingToward(wanted),
            Decision::Scale { to, .. } => Outcome::ScaleTo(to),
        }
    }

    #[test]
    fn tracks_the_target_within_bounds() {
        let now = Instant::now();
        for (current, rate, expected) in [
            (1, 50.0, Outcome::Hold),
            (1, 250.0, Outcome::ScaleTo(3)),
            (1, 10_000.0, Outcome::ScaleTo(4)),
            (3, 0.0, Outcome::ScaleTo(1)),
            (0, 0.0, Outcome::ScaleTo(1)),
        ] {
            let decision = decide(&policy(), current, rate, now, &History::default());
            assert_eq!(outcome(decision), expected, "{current} at {rate}/min");
        }
    }

    #[test]
    fn cooldowns_hold_changes_back() {
        let start = Instant::now();
        let history = History {
            last_scale_out: Some(start),
            last_activity: Some(start),
        };
        // Scale-out waits 60 s after the last scale-out, scale-in 300 s after any scaling.
        for (after_seconds, rate, expected) in [
            (30, 1000.0, Outcome::CoolingToward(4)),
            (30, 0.0, Outcome::CoolingToward(1)),
            (61, 1000.0, Outcome::ScaleTo(4)),
            (61, 0.0, Outcome::CoolingToward(1)),
            (301, 0.0, Outcome::ScaleTo(1)),
        ] {
            let now = start + Duration::from_secs(after_seconds);
            let decision = decide(&policy(), 2, rate, now, &history);
            assert_eq!(
                outcome(decision),
                expected,
                "{after_seconds} s after scaling, at {rate}/min"
            );
        }
    }

    #[test]
    fn rate_is_measured_over_the_window() {
        let start = Instant::now();
        let mut rates = RateWindow {
            window: Duration::from_secs(10),
            samples: VecDeque::new(),
        };
        assert_eq!(rates.record(start, 0), 0.0);
        assert_eq!(rates.record(start + Duration::from_secs(5), 50), 600.0);
        // Old samples fall out of the window: only the last 10 s count.
        let rate = rates.record(start + Duration::from_secs(20), 50);
        assert_eq!(rate, 0.0);
    }
}
