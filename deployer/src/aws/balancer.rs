//! Load balancers (one internet-facing, one internal), target groups (blue and green per
//! service) and listeners.

use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, TargetTypeEnum,
};

use super::Aws;
use super::errors::explain;
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::tags;
use crate::spec::Spec;

fn id_of<'a>(ids: &'a Ids, kind: Kind, name: &str) -> anyhow::Result<&'a str> {
    ids.get(kind, name)
        .ok_or_else(|| anyhow::anyhow!("{kind} {name} does not exist (yet)"))
}

/// Returns the ARN and DNS name.
pub async fn create_load_balancer(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
    subnets: Vec<String>,
) -> anyhow::Result<(String, String)> {
    let scheme = if resource.get("scheme") == "internal" {
        LoadBalancerSchemeEnum::Internal
    } else {
        LoadBalancerSchemeEnum::InternetFacing
    };
    let created = aws
        .elb
        .create_load_balancer()
        .name(&resource.name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(scheme)
        .set_subnets(Some(subnets))
        .security_groups(id_of(
            ids,
            Kind::SecurityGroup,
            resource.get("security_group"),
        )?)
        .set_tags(Some(tags::elb(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateLoadBalancer", e))?;
    let lb = created
        .load_balancers()
        .first()
        .ok_or_else(|| anyhow::anyhow!("CreateLoadBalancer returned no load balancer"))?;
    Ok((
        lb.load_balancer_arn().unwrap_or_default().to_owned(),
        lb.dns_name().unwrap_or_default().to_owned(),
    ))
}

pub async fn create_target_group(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let service = resource
        .service
        .as_deref()
        .and_then(|name| spec.services.get(name))
        .ok_or_else(|| anyhow::anyhow!("target group {} has no service", resource.name))?;
    let check = &service.health;
    let vpc = id_of(ids, Kind::Vpc, &Names::new(spec).base())?;
    let created = aws
        .elb
        .create_target_group()
        .name(&resource.name)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(service.port))
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path(&check.path)
        .health_check_interval_seconds(check.interval.0.as_secs() as i32)
        .health_check_timeout_seconds(check.timeout.0.as_secs() as i32)
        .healthy_threshold_count(i32::from(check.healthy_threshold))
        .unhealthy_threshold_count(i32::from(check.unhealthy_threshold))
        .matcher(Matcher::builder().http_code("200").build())
        .set_tags(Some(tags::elb(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateTargetGroup", e))?;
    Ok(created
        .target_groups()
        .first()
        .and_then(|group| group.target_group_arn())
        .unwrap_or_default()
        .to_owned())
}

pub async fn update_target_group(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
    changed: &[String],
) -> anyhow::Result<()> {
    if changed.iter().any(|attr| attr == "port") {
        anyhow::bail!(
            "target group {}: the port of an existing target group cannot change; `dashctl destroy` and deploy again, or keep the port",
            resource.name
        );
    }
    let service = resource
        .service
        .as_deref()
        .and_then(|name| spec.services.get(name))
        .ok_or_else(|| anyhow::anyhow!("target group {} has no service", resource.name))?;
    let check = &service.health;
    aws.elb
        .modify_target_group()
        .target_group_arn(id_of(ids, Kind::TargetGroup, &resource.name)?)
        .health_check_path(&check.path)
        .health_check_interval_seconds(check.interval.0.as_secs() as i32)
        .health_check_timeout_seconds(check.timeout.0.as_secs() as i32)
        .healthy_threshold_count(i32::from(check.healthy_threshold))
        .unhealthy_threshold_count(i32::from(check.unhealthy_threshold))
        .send()
        .await
        .map_err(|e| explain("ModifyTargetGroup", e))?;
    Ok(())
}

fn default_action(resource: &Resource, ids: &Ids) -> anyhow::Result<Action> {
    let action = resource.get("action");
    if action == "redirect:https" {
        return Ok(Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build());
    }
    let group = action
        .strip_prefix("forward:")
        .ok_or_else(|| anyhow::anyhow!("listener {}: unknown action `{action}`", resource.name))?;
    Ok(Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(id_of(ids, Kind::TargetGroup, group)?)
        .build())
}

pub async fn create_listener(aws: &Aws, resource: &Resource, ids: &Ids) -> anyhow::Result<String> {
    let (lb, port) = resource
        .name
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("bad listener name {}", resource.name))?;
    let port: i32 = port.parse()?;
    let protocol = if resource.get("protocol") == "HTTPS" {
        ProtocolEnum::Https
    } else {
        ProtocolEnum::Http
    };
    let mut request = aws
        .elb
        .create_listener()
        .load_balancer_arn(id_of(ids, Kind::LoadBalancer, lb)?)
        .port(port)
        .protocol(protocol)
        .default_actions(default_action(resource, ids)?);
    if let Some(certificate) = resource.attrs.get("certificate") {
        request = request.certificates(Certificate::builder().certificate_arn(certificate).build());
    }
    let created = request
        .send()
        .await
        .map_err(|e| explain("CreateListener", e))?;
    Ok(created
        .listeners()
        .first()
        .and_then(|listener| listener.listener_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Re-points a listener (used by deploys and by blue/green switches).
pub async fn update_listener(aws: &Aws, resource: &Resource, ids: &Ids) -> anyhow::Result<()> {
    let mut request = aws
        .elb
        .modify_listener()
        .listener_arn(id_of(ids, Kind::Listener, &resource.name)?)
        .default_actions(default_action(resource, ids)?);
    if let Some(certificate) = resource.attrs.get("certificate") {
        request = request.certificates(Certificate::builder().certificate_arn(certificate).build());
    }
    request
        .send()
        .await
        .map_err(|e| explain("ModifyListener", e))?;
    Ok(())
}

pub async fn delete(aws: &Aws, kind: Kind, name: &str, ids: &Ids) -> anyhow::Result<()> {
    let arn = id_of(ids, kind, name)?;
    match kind {
        Kind::LoadBalancer => {
            aws.elb
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map_err(|e| explain("DeleteLoadBalancer", e))?;
            // Its network interfaces hold the security group and subnets until it is gone.
            aws.elb
                .wait_until_load_balancers_deleted()
                .load_balancer_arns(arn)
                .wait(std::time::Duration::from_secs(600))
                .await
                .map_err(|error| {
                    anyhow::anyhow!("load balancer {name} was not deleted: {error}")
                })?;
        }
        Kind::TargetGroup => {
            aws.elb
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| explain("DeleteTargetGroup", e))?;
        }
        Kind::Listener => {
            aws.elb
                .delete_listener()
                .listener_arn(arn)
                .send()
                .await
                .map_err(|e| explain("DeleteListener", e))?;
        }
        _ => anyhow::bail!("{kind} is not a load balancing resource"),
    }
    Ok(())
}
