//! CloudWatch alarms per color: target 5xx responses and unhealthy hosts. A rollout resets
//! the new color's alarms when it starts and treats ALARM as unhealthy while that color takes
//! traffic.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};

use super::Aws;
use super::errors::explain;
use super::model::{self, Ids, Inventory, Kind, Resource};
use super::names::Names;
use super::tags;
use crate::spec::Spec;

/// CloudWatch allows 3 PutMetricAlarm calls a second per account and region (CloudWatch
/// service quotas). Spacing them out is faster than being throttled and backing off.
const ALARM_WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(350);

async fn pace_alarm_writes() {
    static LAST: tokio::sync::Mutex<Option<tokio::time::Instant>> =
        tokio::sync::Mutex::const_new(None);
    let mut last = LAST.lock().await;
    if let Some(previous) = *last {
        tokio::time::sleep_until(previous + ALARM_WRITE_INTERVAL).await;
    }
    *last = Some(tokio::time::Instant::now());
}

/// `app/NAME/ID` and `targetgroup/NAME/ID`, the dimensions ALB metrics use.
fn dimensions(resource: &Resource, ids: &Ids) -> anyhow::Result<Vec<Dimension>> {
    let lb = ids.require(Kind::LoadBalancer, resource.get("load_balancer"))?;
    let group = ids.require(Kind::TargetGroup, resource.get("target_group"))?;
    let lb = lb
        .split_once(":loadbalancer/")
        .map_or(lb, |(_, suffix)| suffix);
    let group = group.rsplit_once(':').map_or(group, |(_, suffix)| suffix);
    Ok(vec![
        Dimension::builder().name("LoadBalancer").value(lb).build(),
        Dimension::builder()
            .name("TargetGroup")
            .value(group)
            .build(),
    ])
}

/// Creates or updates (PutMetricAlarm is an upsert by name).
pub async fn put(aws: &Aws, spec: &Spec, resource: &Resource, ids: &Ids) -> anyhow::Result<String> {
    let service = resource
        .service
        .as_deref()
        .and_then(|name| spec.services.get(name))
        .ok_or_else(|| anyhow::anyhow!("alarm {} has no service", resource.name))?;
    let five_xx = resource.get("metric") == "HTTPCode_Target_5XX_Count";
    let (statistic, threshold, periods) = if five_xx {
        (
            Statistic::Sum,
            f64::from(service.deploy.max_5xx_per_minute),
            1,
        )
    } else {
        (Statistic::Maximum, 0.0, 2)
    };
    let tags = tags::sdk(spec, resource);
    pace_alarm_writes().await;
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(&resource.name)
        .alarm_description(format!(
            "dashctl: {} of {} (rollouts switch back while it alarms)",
            resource.get("metric"),
            resource.get("target_group")
        ))
        .namespace("AWS/ApplicationELB")
        .metric_name(resource.get("metric"))
        .set_dimensions(Some(dimensions(resource, ids)?))
        .statistic(statistic)
        .period(60)
        .evaluation_periods(periods)
        .threshold(threshold)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| explain("PutMetricAlarm", e))?;
    Ok(resource.name.clone())
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    aws.cloudwatch
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| explain("DeleteAlarms", e))?;
    Ok(())
}

pub async fn discover(aws: &Aws, spec: &Spec, inventory: &mut Inventory) -> anyhow::Result<()> {
    let names = Names::new(spec);
    // DescribeAlarms returns 50 alarms a page at most.
    let mut alarms = Vec::new();
    let mut pages = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(names.alarm_prefix())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        alarms.extend(
            page.map_err(|e| explain("DescribeAlarms", e))?
                .metric_alarms()
                .to_vec(),
        );
    }
    for alarm in &alarms {
        let Some(name) = alarm.alarm_name() else {
            continue;
        };
        let dimension = |key: &str| {
            alarm
                .dimensions()
                .iter()
                .find(|dimension| dimension.name() == Some(key))
                .and_then(|dimension| dimension.value())
                .unwrap_or_default()
                .to_owned()
        };
        let group = dimension("TargetGroup")
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let lb = dimension("LoadBalancer")
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        // Only ours: the target group must be one of this app's.
        let Some(owner) = model::find(&inventory.resources, Kind::TargetGroup, &group)
            .map(|group| group.service.clone())
        else {
            continue;
        };
        let metric = alarm.metric_name().unwrap_or_default().to_owned();
        let threshold = if metric == "HTTPCode_Target_5XX_Count" {
            format!(
                "> {} per minute",
                alarm.threshold().unwrap_or_default().round() as i64
            )
        } else {
            "> 0 for 2 minutes".to_owned()
        };
        inventory.ids.insert(Kind::Alarm, name, name);
        let mut resource = Resource::new(Kind::Alarm, name)
            .attr("metric", metric)
            .attr("threshold", threshold)
            .attr("target_group", group)
            .attr("load_balancer", lb);
        resource.service = owner;
        inventory.resources.push(resource);
    }
    Ok(())
}

/// Starts a color's alarms from OK, so an alarm from an earlier release does not count.
pub async fn reset(
    aws: &Aws,
    spec: &Spec,
    service: &str,
    color: crate::rollout::Color,
) -> anyhow::Result<()> {
    let names = Names::new(spec);
    for kind in ["5xx", "unhealthy"] {
        aws.cloudwatch
            .set_alarm_state()
            .alarm_name(names.alarm(service, color, kind))
            .state_value(StateValue::Ok)
            .state_reason("dashctl: a new release starts on this color")
            .send()
            .await
            .map_err(|e| explain("SetAlarmState", e))?;
    }
    Ok(())
}

/// The color's alarms currently in ALARM.
pub async fn firing(
    aws: &Aws,
    spec: &Spec,
    service: &str,
    color: crate::rollout::Color,
) -> anyhow::Result<Vec<String>> {
    let names = Names::new(spec);
    let found = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names(names.alarm(service, color, "5xx"))
        .alarm_names(names.alarm(service, color, "unhealthy"))
        .send()
        .await
        .map_err(|e| explain("DescribeAlarms", e))?;
    Ok(found
        .metric_alarms()
        .iter()
        .filter(|alarm| alarm.state_value() == Some(&StateValue::Alarm))
        .filter_map(|alarm| alarm.alarm_name().map(str::to_owned))
        .collect())
}
