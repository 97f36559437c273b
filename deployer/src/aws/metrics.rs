//! A color's load balancer metrics from CloudWatch (`GetMetricData`, namespace
//! `AWS/ApplicationELB`, per target group): requests, target 5xx answers and p99 target
//! response time over a window, for judging a release.
//!
//! An ALB publishes these in one-minute periods, a minute or more after the fact, and only
//! when there was something to count (no requests: no `RequestCount` at all; no 5xx: no
//! `HTTPCode_Target_5XX_Count`). So the window is widened to whole minutes, a canary step
//! shorter than a couple of minutes may see nothing yet (no verdict, not a breach), and a
//! missing 5xx count next to a request count is zero.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use super::errors::explain;
use crate::rollout::Readings;

const NAMESPACE: &str = "AWS/ApplicationELB";
const MINUTE: u64 = 60;

/// The three series asked for: (query id, metric, statistic).
const SERIES: [(&str, &str, &str); 3] = [
    ("requests", "RequestCount", "Sum"),
    ("errors", "HTTPCode_Target_5XX_Count", "Sum"),
    ("p99", "TargetResponseTime", "p99"),
];

/// The window CloudWatch is asked about: `since` rounded down and `now` rounded up to whole
/// minutes (as CloudWatch rounds recent start times itself), one period covering all of it,
/// so each series is one number. Seconds since the epoch.
fn window(since: SystemTime, now: SystemTime) -> (u64, u64) {
    let seconds = |time: SystemTime| {
        time.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    };
    let start = seconds(since) / MINUTE * MINUTE;
    let end = seconds(now).div_ceil(MINUTE) * MINUTE;
    (start, end.max(start + MINUTE))
}

/// `app/NAME/ID` and `targetgroup/NAME/ID`: the dimension values of ALB metrics, from ARNs.
fn dimensions(load_balancer_arn: &str, target_group_arn: &str) -> [Dimension; 2] {
    let load_balancer = load_balancer_arn
        .split_once(":loadbalancer/")
        .map_or(load_balancer_arn, |(_, suffix)| suffix);
    let target_group = target_group_arn
        .rsplit_once(':')
        .map_or(target_group_arn, |(_, suffix)| suffix);
    [
        Dimension::builder()
            .name("LoadBalancer")
            .value(load_balancer)
            .build(),
        Dimension::builder()
            .name("TargetGroup")
            .value(target_group)
            .build(),
    ]
}

/// What the load balancer measured for one target group since `since`; None when it
/// reported no requests for the window.
pub async fn readings(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    load_balancer_arn: &str,
    target_group_arn: &str,
    since: SystemTime,
) -> anyhow::Result<Option<Readings>> {
    let (start, end) = window(since, SystemTime::now());
    let period = i32::try_from(end - start).context("the window is too long for one period")?;
    let dimensions = dimensions(load_balancer_arn, target_group_arn);
    let mut request = cloudwatch
        .get_metric_data()
        .start_time(DateTime::from_secs(start as i64))
        .end_time(DateTime::from_secs(end as i64));
    for (id, metric, stat) in SERIES {
        request = request.metric_data_queries(
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(NAMESPACE)
                                .metric_name(metric)
                                .set_dimensions(Some(dimensions.to_vec()))
                                .build(),
                        )
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .return_data(true)
                .build(),
        );
    }
    let mut values: [Vec<f64>; 3] = Default::default();
    let mut token = None;
    loop {
        let page = request
            .clone()
            .set_next_token(token)
            .send()
            .await
            .map_err(|error| explain("GetMetricData", error))?;
        for result in page.metric_data_results() {
            if let Some(index) = SERIES
                .iter()
                .position(|(id, _, _)| Some(*id) == result.id())
            {
                values[index].extend_from_slice(result.values());
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(read(&values))
}

/// The readings in the three series' values (one per period; one period is asked for, but a
/// sum over several is still the sum, and the largest p99 the cautious one).
fn read([requests, errors, p99]: &[Vec<f64>; 3]) -> Option<Readings> {
    let count = |values: &[f64]| values.iter().sum::<f64>().max(0.0).round() as u64;
    let requests = count(requests);
    (requests > 0).then(|| Readings {
        requests,
        errors: count(errors),
        p99: p99
            .iter()
            .copied()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .reduce(f64::max)
            .map(Duration::from_secs_f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_whole_minutes_around_the_step() {
        let at = |seconds| UNIX_EPOCH + Duration::from_secs(seconds);
        assert_eq!(window(at(6_030), at(6_100)), (6_000, 6_120));
        assert_eq!(window(at(6_000), at(6_000)), (6_000, 6_060));
        assert_eq!(window(at(6_059), at(6_061)), (6_000, 6_120));
    }

    #[test]
    fn dimensions_are_the_arn_suffixes() {
        let [lb, tg] = dimensions(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/dash-prod-public/50dc6c495c0c9188",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dash-prod-portal-blue/73e2d6bc24d8a067",
        );
        assert_eq!(lb.value(), Some("app/dash-prod-public/50dc6c495c0c9188"));
        assert_eq!(
            tg.value(),
            Some("targetgroup/dash-prod-portal-blue/73e2d6bc24d8a067")
        );
    }

    #[test]
    fn no_requests_is_no_readings_and_a_missing_5xx_count_is_zero() {
        assert_eq!(read(&[vec![], vec![], vec![]]), None);
        assert_eq!(
            read(&[vec![120.0], vec![], vec![0.25]]),
            Some(Readings {
                requests: 120,
                errors: 0,
                p99: Some(Duration::from_millis(250)),
            })
        );
    }
}
