//! ECS: the cluster, one task definition family per service, and the ECS services (Fargate,
//! private subnets, deployment circuit breaker on). Updates never send a desired count:
//! autoscaling owns it.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair, LaunchType, LoadBalancer,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping, PropagateTags,
    Secret, Service, ServiceField, TransportProtocol,
};

use super::Aws;
use super::errors::explain;
use super::model::{Ids, Inventory, Kind, Resource};
use super::names::Names;
use super::retry;
use super::tags;
use crate::events::Event;
use crate::spec::Spec;

fn pairs(text: &str) -> Vec<(String, String)> {
    text.split("; ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn joined(mut items: Vec<String>) -> String {
    items.sort();
    items.join("; ")
}

fn last_segment(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or_default().to_owned()
}

pub async fn create_cluster(aws: &Aws, spec: &Spec, resource: &Resource) -> anyhow::Result<String> {
    let created = aws
        .ecs
        .create_cluster()
        .cluster_name(&resource.name)
        .set_tags(Some(tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateCluster", e))?;
    Ok(created
        .cluster()
        .and_then(|cluster| cluster.cluster_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Registers a new revision of the family; returns its ARN.
pub async fn register_task_definition(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<String> {
    let service = resource.service.as_deref().unwrap_or_default();
    let region = aws.region.clone();
    let environment: Vec<KeyValuePair> = pairs(resource.get("env"))
        .into_iter()
        .map(|(key, value)| KeyValuePair::builder().name(key).value(value).build())
        .collect();
    let mut secrets = Vec::new();
    for (key, value) in pairs(resource.get("secrets")) {
        secrets.push(Secret::builder().name(key).value_from(value).build()?);
    }
    let logging = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", resource.get("log_group"))
        .options("awslogs-region", region)
        .options("awslogs-stream-prefix", service)
        .build()?;
    let port: i32 = resource.get("port").parse()?;
    let container = ContainerDefinition::builder()
        .name(service)
        .image(resource.get("image"))
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(port)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .set_environment(Some(environment))
        .set_secrets(Some(secrets))
        .log_configuration(logging)
        .build();
    let registered = aws
        .ecs
        .register_task_definition()
        .family(&resource.name)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu(resource.get("cpu"))
        .memory(resource.get("memory"))
        .execution_role_arn(ids.require(Kind::Role, resource.get("execution_role"))?)
        .task_role_arn(ids.require(Kind::Role, resource.get("task_role"))?)
        .container_definitions(container)
        .set_tags(Some(tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("RegisterTaskDefinition", e))?;
    Ok(registered
        .task_definition()
        .and_then(|definition| definition.task_definition_arn())
        .unwrap_or_default()
        .to_owned())
}

/// A task definition revision in the desired-state shape (named by family).
pub async fn describe_task_definition(
    aws: &Aws,
    arn: &str,
    inventory: &Inventory,
) -> anyhow::Result<Option<Resource>> {
    if arn.is_empty() {
        return Ok(None);
    }
    let described = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| explain("DescribeTaskDefinition", e))?;
    let Some(definition) = described.task_definition() else {
        return Ok(None);
    };
    let Some(container) = definition.container_definitions().first() else {
        return Ok(None);
    };
    let role_name = |arn: Option<&str>| {
        arn.map(last_segment)
            .filter(|name| inventory.ids.get(Kind::Role, name).is_some() || !name.is_empty())
            .unwrap_or_default()
    };
    let env = joined(
        container
            .environment()
            .iter()
            .map(|pair| {
                format!(
                    "{}={}",
                    pair.name().unwrap_or_default(),
                    pair.value().unwrap_or_default()
                )
            })
            .collect(),
    );
    let secrets = joined(
        container
            .secrets()
            .iter()
            .map(|secret| format!("{}={}", secret.name(), secret.value_from()))
            .collect(),
    );
    let log_group = container
        .log_configuration()
        .and_then(|logging| logging.options())
        .and_then(|options| options.get("awslogs-group"))
        .cloned()
        .unwrap_or_default();
    Ok(Some(
        Resource::new(
            Kind::TaskDefinition,
            definition.family().unwrap_or_default(),
        )
        .attr("image", container.image().unwrap_or_default())
        .attr("cpu", definition.cpu().unwrap_or_default())
        .attr("memory", definition.memory().unwrap_or_default())
        .attr(
            "port",
            container
                .port_mappings()
                .first()
                .and_then(|mapping| mapping.container_port())
                .unwrap_or_default()
                .to_string(),
        )
        .attr("env", env)
        .attr("secrets", secrets)
        .attr("execution_role", role_name(definition.execution_role_arn()))
        .attr("task_role", role_name(definition.task_role_arn()))
        .attr("log_group", log_group),
    ))
}

fn private_subnets(spec: &Spec, ids: &Ids) -> Vec<String> {
    let names = Names::new(spec);
    (0..usize::from(spec.network.azs))
        .filter_map(|index| {
            ids.get(Kind::Subnet, &names.subnet("private", index))
                .map(str::to_owned)
        })
        .collect()
}

fn network(spec: &Spec, resource: &Resource, ids: &Ids) -> anyhow::Result<NetworkConfiguration> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(private_subnets(spec, ids)))
        .security_groups(ids.require(Kind::SecurityGroup, resource.get("security_group"))?)
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

/// Keep full capacity during a rollout, and let ECS stop and roll back a release whose tasks
/// keep failing (the circuit breaker).
fn deployment_configuration() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .build()
}

/// Creates the ECS service (at the scaling minimum unless told otherwise), on the family's
/// newest revision.
pub async fn create_service(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
    desired_count: Option<i32>,
) -> anyhow::Result<String> {
    let service = resource.service.as_deref().unwrap_or_default();
    let definition = spec
        .services
        .get(service)
        .ok_or_else(|| anyhow::anyhow!("ECS service {} has no spec service", resource.name))?;
    let task_definition = ids.require(Kind::TaskDefinition, resource.get("task_definition"))?;
    let created = aws
        .ecs
        .create_service()
        .cluster(Names::new(spec).base())
        .service_name(&resource.name)
        .task_definition(task_definition)
        .desired_count(desired_count.unwrap_or(definition.scaling.min as i32))
        .launch_type(LaunchType::Fargate)
        .network_configuration(network(spec, resource, ids)?)
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(ids.require(Kind::TargetGroup, resource.get("target_group"))?)
                .container_name(service)
                .container_port(i32::from(definition.port))
                .build(),
        )
        .deployment_configuration(deployment_configuration())
        .health_check_grace_period_seconds(60)
        .propagate_tags(PropagateTags::Service)
        .set_tags(Some(tags::sdk(spec, resource)))
        .send()
        .await
        .map_err(|e| explain("CreateService", e))?;
    Ok(created
        .service()
        .and_then(|service| service.service_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Points the service at the family's newest revision and current network settings.
pub async fn update_service(
    aws: &Aws,
    spec: &Spec,
    resource: &Resource,
    ids: &Ids,
) -> anyhow::Result<()> {
    aws.ecs
        .update_service()
        .cluster(Names::new(spec).base())
        .service(&resource.name)
        .task_definition(ids.require(Kind::TaskDefinition, resource.get("task_definition"))?)
        .network_configuration(network(spec, resource, ids)?)
        .send()
        .await
        .map_err(|e| explain("UpdateService", e))?;
    Ok(())
}

/// ECS services of `cluster`, by name or ARN, with their tags, in whatever state ECS reports
/// (`ACTIVE`, `DRAINING`, `INACTIVE`); those ECS has no record of are left out. DescribeServices
/// takes ten at a time.
pub async fn describe_services(
    aws: &Aws,
    cluster: &str,
    services: &[String],
) -> anyhow::Result<Vec<Service>> {
    let mut found = Vec::new();
    for chunk in services.chunks(10) {
        let described = aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| explain("DescribeServices", e))?;
        found.extend(described.services().iter().cloned());
    }
    Ok(found)
}

/// One ECS service of `cluster` (see `describe_services`), None when ECS has no record of it.
pub async fn describe_service(
    aws: &Aws,
    cluster: &str,
    name: &str,
) -> anyhow::Result<Option<Service>> {
    Ok(describe_services(aws, cluster, &[name.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// An ECS service's status (`ACTIVE`, `DRAINING`, `INACTIVE`), None when ECS has no record.
pub async fn service_status(
    aws: &Aws,
    cluster: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    Ok(describe_service(aws, cluster, name)
        .await?
        .and_then(|service| service.status().map(str::to_owned)))
}

/// Waits until a deleted service has drained (ECS reports it INACTIVE, or no longer at all).
pub async fn wait_inactive(aws: &Aws, cluster: &str, name: &str) -> anyhow::Result<()> {
    retry::poll_until(
        &format!("ECS service {name} draining"),
        retry::SETTLE,
        || async {
            Ok(matches!(
                service_status(aws, cluster, name).await?.as_deref(),
                None | Some("INACTIVE")
            ))
        },
    )
    .await
}

pub async fn delete(
    aws: &Aws,
    spec: &Spec,
    kind: Kind,
    name: &str,
    ids: &Ids,
) -> anyhow::Result<()> {
    let cluster = Names::new(spec).base();
    match kind {
        Kind::EcsService => {
            aws.ecs
                .delete_service()
                .cluster(&cluster)
                .service(name)
                .force(true)
                .send()
                .await
                .map_err(|e| explain("DeleteService", e))?;
            // A deleted service drains for minutes; the cluster, its subnets and security
            // groups can only go after it is INACTIVE.
            aws.events.emit(Event::WaitingForDrain {
                service: None,
                ecs_service: name.to_owned(),
            });
            wait_inactive(aws, &cluster, name).await?;
        }
        Kind::TaskDefinition => {
            let mut pages = aws
                .ecs
                .list_task_definitions()
                .family_prefix(name)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for arn in page
                    .map_err(|e| explain("ListTaskDefinitions", e))?
                    .task_definition_arns()
                {
                    // `family_prefix` also matches longer families; keep only this one.
                    if arn
                        .rsplit('/')
                        .next()
                        .and_then(|revision| revision.rsplit_once(':'))
                        .is_some_and(|(family, _)| family == name)
                    {
                        aws.ecs
                            .deregister_task_definition()
                            .task_definition(arn)
                            .send()
                            .await
                            .map_err(|e| explain("DeregisterTaskDefinition", e))?;
                    }
                }
            }
        }
        Kind::Cluster => {
            aws.ecs
                .delete_cluster()
                .cluster(ids.require(Kind::Cluster, name)?)
                .send()
                .await
                .map_err(|e| explain("DeleteCluster", e))?;
        }
        _ => anyhow::bail!("{kind} is not an ECS resource"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn services_roll_back_failing_releases() {
        let configuration = super::deployment_configuration();
        let breaker = configuration
            .deployment_circuit_breaker()
            .expect("circuit breaker");
        assert!(breaker.enable() && breaker.rollback());
        assert_eq!(configuration.minimum_healthy_percent(), Some(100));
    }
}
