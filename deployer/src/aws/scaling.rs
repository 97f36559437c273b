//! Application Auto Scaling: each ECS service's desired count between the spec's min and max,
//! tracking requests per target on its live target group (`ALBRequestCountPerTarget`).

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use super::Aws;
use super::errors::explain;
use super::model::{Ids, Inventory, Kind, Resource};
use super::names::Names;

/// `app/{lb-name}/{lb-id}/targetgroup/{tg-name}/{tg-id}`, from the two ARNs.
pub fn resource_label(lb_arn: &str, tg_arn: &str) -> Option<String> {
    let lb = lb_arn.split_once(":loadbalancer/")?.1;
    let tg = tg_arn.rsplit_once(':')?.1;
    Some(format!("{lb}/{tg}"))
}

pub async fn discover(
    aws: &Aws,
    names: &Names<'_>,
    ecs_service: &str,
    owner: Option<&str>,
    inventory: &mut Inventory,
) -> anyhow::Result<()> {
    let resource_id = names.scalable_resource(ecs_service);
    let targets = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&resource_id)
        .send()
        .await
        .map_err(|e| explain("DescribeScalableTargets", e))?;
    let Some(target) = targets.scalable_targets().first() else {
        return Ok(());
    };
    inventory
        .ids
        .insert(Kind::ScalableTarget, &resource_id, &resource_id);
    let mut resource = Resource::new(Kind::ScalableTarget, &resource_id)
        .attr("min", target.min_capacity().to_string())
        .attr("max", target.max_capacity().to_string());
    resource.service = owner.map(str::to_owned);
    inventory.resources.push(resource);

    let policies = aws
        .scaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource_id)
        .send()
        .await
        .map_err(|e| explain("DescribeScalingPolicies", e))?;
    for policy in policies.scaling_policies() {
        let Some(configuration) = policy.target_tracking_scaling_policy_configuration() else {
            continue;
        };
        let metric = configuration.predefined_metric_specification();
        let group = metric
            .and_then(|metric| metric.resource_label())
            .and_then(|label| label.split_once("/targetgroup/"))
            .and_then(|(_, group)| group.split('/').next())
            .unwrap_or_default();
        inventory.ids.insert(
            Kind::ScalingPolicy,
            policy.policy_name(),
            policy.policy_arn(),
        );
        let mut resource = Resource::new(Kind::ScalingPolicy, policy.policy_name())
            .attr("scalable_target", &resource_id)
            .attr(
                "metric",
                metric
                    .map(|metric| metric.predefined_metric_type().as_str().to_owned())
                    .unwrap_or_default(),
            )
            .attr("target_group", group)
            .attr(
                "requests_per_target",
                format!("{}", configuration.target_value().round() as i64),
            )
            .attr(
                "scale_in_cooldown",
                configuration
                    .scale_in_cooldown()
                    .unwrap_or_default()
                    .to_string(),
            )
            .attr(
                "scale_out_cooldown",
                configuration
                    .scale_out_cooldown()
                    .unwrap_or_default()
                    .to_string(),
            );
        resource.service = owner.map(str::to_owned);
        inventory.resources.push(resource);
    }
    Ok(())
}

pub async fn register_target(aws: &Aws, resource: &Resource) -> anyhow::Result<String> {
    aws.scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource.name)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(resource.get("min").parse()?)
        .max_capacity(resource.get("max").parse()?)
        .send()
        .await
        .map_err(|e| explain("RegisterScalableTarget", e))?;
    Ok(resource.name.clone())
}

/// Creates or replaces the target-tracking policy (PutScalingPolicy is an upsert by name).
pub async fn put_policy(
    aws: &Aws,
    resource: &Resource,
    ids: &Ids,
    load_balancer: &str,
) -> anyhow::Result<String> {
    let group = resource.get("target_group");
    let tg_arn = ids.require(Kind::TargetGroup, group)?;
    let lb_arn = ids.require(Kind::LoadBalancer, load_balancer)?;
    let label = resource_label(lb_arn, tg_arn).ok_or_else(|| {
        anyhow::anyhow!("cannot build the metric's resource label from {lb_arn} and {tg_arn}")
    })?;
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::AlbRequestCountPerTarget)
        .resource_label(label)
        .build()?;
    let configuration = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(resource.get("requests_per_target").parse::<f64>()?)
        .predefined_metric_specification(metric)
        .scale_in_cooldown(resource.get("scale_in_cooldown").parse()?)
        .scale_out_cooldown(resource.get("scale_out_cooldown").parse()?)
        .build()?;
    let put = aws
        .scaling
        .put_scaling_policy()
        .policy_name(&resource.name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource.get("scalable_target"))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(configuration)
        .send()
        .await
        .map_err(|e| explain("PutScalingPolicy", e))?;
    Ok(put.policy_arn().to_owned())
}

pub async fn delete(aws: &Aws, resource: &Resource) -> anyhow::Result<()> {
    match resource.kind {
        Kind::ScalingPolicy => {
            aws.scaling
                .delete_scaling_policy()
                .policy_name(&resource.name)
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource.get("scalable_target"))
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| explain("DeleteScalingPolicy", e))?;
        }
        Kind::ScalableTarget => {
            aws.scaling
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(&resource.name)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| explain("DeregisterScalableTarget", e))?;
        }
        kind => anyhow::bail!("{kind} is not a scaling resource"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn resource_label_joins_the_two_arns() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/dash-prod-public/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/dash-prod-portal-blue/943f017f100becff";
        assert_eq!(
            super::resource_label(lb, tg).as_deref(),
            Some(
                "app/dash-prod-public/50dc6c495c0c9188/targetgroup/dash-prod-portal-blue/943f017f100becff"
            )
        );
    }
}
