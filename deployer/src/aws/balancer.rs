//! Load balancers (one internet-facing, one internal), target groups (blue and green per
//! service) and listeners.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, Certificate, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    TargetGroupAttribute, TargetTypeEnum,
};

use super::Aws;
use super::errors::{explain, none_on};
use super::listener_action::ListenerAction;
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use super::tags;
use crate::spec::{Service, Spec};

/// The target group attribute that holds how long a leaving target may finish its requests.
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// HTTPS listeners accept TLS 1.2 and 1.3 only (AWS's default policy still allows TLS 1.0).
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

async fn set_deregistration_delay(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    arn: &str,
) -> anyhow::Result<()> {
    let seconds = resource
        .service
        .as_deref()
        .and_then(|name| spec.services.get(name))
        .map_or(30, |service| {
            service.deploy.deregistration_delay.0.as_secs()
        });
    aws.elb
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY)
                .value(seconds.to_string())
                .build(),
        )
        .send()
        .await
        .map_err(|e| explain("ModifyTargetGroupAttributes", e))?;
    Ok(())
}

/// DescribeTags takes at most this many ARNs a call.
const TAGS_PER_CALL: usize = 20;

/// The tags of each of `arns` (load balancers, target groups, listener rules), by key, in the
/// order ELB answers.
pub async fn tags_of(
    aws: &Aws,
    arns: &[String],
) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let mut found = Vec::new();
    for batch in arns.chunks(TAGS_PER_CALL) {
        let described = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| explain("DescribeTags", e))?;
        found.extend(
            described
                .tag_descriptions()
                .iter()
                .filter_map(|description| {
                    let arn = description.resource_arn()?;
                    Some((arn.to_owned(), tags::elb_map(description.tags())))
                }),
        );
    }
    Ok(found)
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
        .security_groups(ids.require(Kind::SecurityGroup, resource.get("security_group"))?)
        .set_tags(Some(tags::sdk(spec, resource)))
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

/// The service a target group sends traffic to: its port and health check come from it.
fn target_group_service<'a>(spec: &'a Spec, resource: &Resource) -> anyhow::Result<&'a Service> {
    resource
        .service
        .as_deref()
        .and_then(|name| spec.services.get(name))
        .ok_or_else(|| anyhow::anyhow!("target group {} has no service", resource.name))
}

pub async fn create_target_group(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let service = target_group_service(spec, resource)?;
    let check = &service.health;
    let vpc = ids.require(Kind::Vpc, &Names::new(spec).base())?;
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
        .set_tags(Some(tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateTargetGroup", e))?;
    let arn = created
        .target_groups()
        .first()
        .and_then(|group| group.target_group_arn())
        .unwrap_or_default()
        .to_owned();
    set_deregistration_delay(aws, spec, resource, &arn).await?;
    Ok(arn)
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
    let service = target_group_service(spec, resource)?;
    let check = &service.health;
    aws.elb
        .modify_target_group()
        .target_group_arn(ids.require(Kind::TargetGroup, &resource.name)?)
        .health_check_path(&check.path)
        .health_check_interval_seconds(check.interval.0.as_secs() as i32)
        .health_check_timeout_seconds(check.timeout.0.as_secs() as i32)
        .healthy_threshold_count(i32::from(check.healthy_threshold))
        .unhealthy_threshold_count(i32::from(check.unhealthy_threshold))
        .send()
        .await
        .map_err(|e| explain("ModifyTargetGroup", e))?;
    if changed.iter().any(|attr| attr == "deregistration_delay") {
        set_deregistration_delay(
            aws,
            spec,
            resource,
            ids.require(Kind::TargetGroup, &resource.name)?,
        )
        .await?;
    }
    Ok(())
}

fn default_action(resource: &Resource, ids: &Ids) -> anyhow::Result<Action> {
    let action: ListenerAction = resource
        .get("action")
        .parse()
        .map_err(|error| anyhow::anyhow!("listener {}: {error}", resource.name))?;
    action
        .to_aws(ids)
        .map_err(|error| anyhow::anyhow!("listener {}: {error}", resource.name))
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
        .load_balancer_arn(ids.require(Kind::LoadBalancer, lb)?)
        .port(port)
        .protocol(protocol)
        .default_actions(default_action(resource, ids)?);
    if let Some(certificate) = resource.attrs.get("certificate") {
        request = request
            .certificates(Certificate::builder().certificate_arn(certificate).build())
            .ssl_policy(TLS_POLICY);
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
        .listener_arn(ids.require(Kind::Listener, &resource.name)?)
        .default_actions(default_action(resource, ids)?);
    if let Some(certificate) = resource.attrs.get("certificate") {
        request = request
            .certificates(Certificate::builder().certificate_arn(certificate).build())
            .ssl_policy(TLS_POLICY);
    }
    request
        .send()
        .await
        .map_err(|e| explain("ModifyListener", e))?;
    Ok(())
}

pub async fn delete(aws: &Aws, kind: Kind, name: &str, ids: &Ids) -> anyhow::Result<()> {
    let arn = ids.require(kind, name)?;
    match kind {
        Kind::LoadBalancer => {
            aws.elb
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map_err(|e| explain("DeleteLoadBalancer", e))?;
            // Its network interfaces hold the security group and subnets until it is gone.
            super::retry::poll_until(
                &format!("load balancer {name} being deleted"),
                super::retry::SETTLE,
                || async {
                    let found = aws
                        .elb
                        .describe_load_balancers()
                        .load_balancer_arns(arn)
                        .send()
                        .await;
                    Ok(
                        none_on(&["LoadBalancerNotFound"], "DescribeLoadBalancers", found)?
                            .is_none_or(|found| found.load_balancers().is_empty()),
                    )
                },
            )
            .await?;
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
