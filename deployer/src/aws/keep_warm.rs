//! `deploy.keep_previous` on AWS: the previous color's ECS service stays at its size after a
//! release, and Application Auto Scaling scales it to zero when the window ends, whether or
//! not dashctl is running then. The window is a one-time scheduled action (`at(...)`, min and
//! max 0) on a scalable target registered for that color alone (min = max = its size, so
//! nothing else resizes it meanwhile). Deregistering the target deletes the scheduled action
//! with it, which is how a window ends early.

use std::time::{Duration, SystemTime};

use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTargetAction, ServiceNamespace,
};

use super::Aws;
use super::errors::explain;
use super::names::Names;
use crate::rollout::Color;

/// The scheduled action's name on a color's scalable target.
pub const ACTION: &str = "dashctl-keep-previous";

/// Keeps `color` of `service` at `count` tasks until `window` from now, then at zero.
pub async fn begin(
    aws: &Aws,
    names: &Names<'_>,
    service: &str,
    color: Color,
    count: i32,
    window: Duration,
) -> anyhow::Result<()> {
    let resource = names.scalable_resource(&names.colored(service, color));
    aws.scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(count)
        .max_capacity(count)
        .send()
        .await
        .map_err(|e| explain("RegisterScalableTarget", e))?;
    aws.scaling
        .put_scheduled_action()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .scheduled_action_name(ACTION)
        .schedule(at_expression(SystemTime::now() + window))
        .scalable_target_action(
            ScalableTargetAction::builder()
                .min_capacity(0)
                .max_capacity(0)
                .build(),
        )
        .send()
        .await
        .map_err(|e| explain("PutScheduledAction", e))?;
    Ok(())
}

/// Ends `color`'s window, if it has one (and removes what an ended window left: a scalable
/// target at zero). Only for a color that is not live: the live color's scalable target is
/// its autoscaling.
pub async fn end(aws: &Aws, names: &Names<'_>, service: &str, color: Color) -> anyhow::Result<()> {
    let resource = names.scalable_resource(&names.colored(service, color));
    let found = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&resource)
        .send()
        .await
        .map_err(|e| explain("DescribeScalableTargets", e))?;
    if found.scalable_targets().is_empty() {
        return Ok(());
    }
    aws.scaling
        .deregister_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(|e| explain("DeregisterScalableTarget", e))?;
    Ok(())
}

/// When `color`'s window ends, if it has one still to come.
pub async fn until(
    aws: &Aws,
    names: &Names<'_>,
    service: &str,
    color: Color,
) -> anyhow::Result<Option<SystemTime>> {
    let resource = names.scalable_resource(&names.colored(service, color));
    let found = aws
        .scaling
        .describe_scheduled_actions()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scheduled_action_names(ACTION)
        .send()
        .await
        .map_err(|e| explain("DescribeScheduledActions", e))?;
    Ok(found
        .scheduled_actions()
        .iter()
        .find(|action| action.scheduled_action_name() == ACTION)
        .and_then(|action| parse_at_expression(action.schedule()))
        .filter(|until| *until > SystemTime::now()))
}

/// `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next second.
fn at_expression(when: SystemTime) -> String {
    let rounded = when + Duration::from_millis(999);
    let text = humantime::format_rfc3339_seconds(rounded).to_string();
    format!("at({})", text.trim_end_matches('Z'))
}

fn parse_at_expression(schedule: &str) -> Option<SystemTime> {
    let inner = schedule.strip_prefix("at(")?.strip_suffix(')')?;
    humantime::parse_rfc3339(&format!("{inner}Z")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_one_time_expression_that_reads_back() {
        let when = humantime::parse_rfc3339("2026-12-01T10:30:00Z").expect("time");
        assert_eq!(at_expression(when), "at(2026-12-01T10:30:00)");
        let later = when + Duration::from_millis(1);
        assert_eq!(at_expression(later), "at(2026-12-01T10:30:01)");
        assert_eq!(parse_at_expression("at(2026-12-01T10:30:00)"), Some(when));
        assert_eq!(parse_at_expression("cron(0 10 * * ? *)"), None);
    }
}
