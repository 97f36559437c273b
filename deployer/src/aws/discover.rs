//! Finds what exists by the `dashctl:app` and `dashctl:environment` tags (and, where AWS has
//! no tag filter, by dashctl's deterministic names), in the same shape as the desired state.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Address, InternetGateway, NatGateway, RouteTable, SecurityGroup, Subnet, Tag, Vpc,
};
use aws_sdk_ecs::types::ClusterField;

use super::Aws;
use super::balancer::DEREGISTRATION_DELAY;
use super::errors::explain;
use super::listener_action::ListenerAction;
use super::model::{self, Ids, Inventory, Kind, Resource};
use super::names::{Names, TAG_APP, TAG_ENVIRONMENT, TAG_SERVICE, TAG_TIER};
use super::tags::ec2_filters;
use crate::spec::Spec;

/// The tag filter is applied again here: a resource is only ours if its tags say so, whatever
/// the API's filtering did (some test doubles ignore filters on some calls).
fn ours(tags: &[Tag], names: &Names<'_>) -> bool {
    names.own(|key| {
        tags.iter()
            .find(|tag| tag.key() == Some(key))
            .and_then(Tag::value)
    })
}

fn ecs_ours(tags: &[aws_sdk_ecs::types::Tag], names: &Names<'_>) -> bool {
    names.own(|key| {
        tags.iter()
            .find(|tag| tag.key() == Some(key))
            .and_then(|tag| tag.value())
    })
}

fn ec2_tag(tags: &[Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|tag| tag.key() == Some(key))
        .and_then(|tag| tag.value().map(str::to_owned))
}

fn joined(mut items: Vec<String>) -> String {
    items.sort();
    items.join("; ")
}

/// An EC2 resource kind discovery lists: its kind, the Describe call that lists it, its tags,
/// its id and the name dashctl gave it.
trait Ec2Resource {
    const KIND: Kind;
    const OPERATION: &'static str;
    fn tags(&self) -> &[Tag];
    fn id(&self) -> Option<&str>;
    /// The `Name` tag (a security group has a name of its own).
    fn name(&self) -> Option<String> {
        ec2_tag(self.tags(), "Name")
    }
}

macro_rules! ec2_resource {
    ($($type:ty => $id:ident, $kind:expr, $operation:literal;)*) => {$(
        impl Ec2Resource for $type {
            const KIND: Kind = $kind;
            const OPERATION: &'static str = $operation;
            fn tags(&self) -> &[Tag] {
                <$type>::tags(self)
            }
            fn id(&self) -> Option<&str> {
                self.$id()
            }
        }
    )*};
}

ec2_resource!(
    Vpc => vpc_id, Kind::Vpc, "DescribeVpcs";
    InternetGateway => internet_gateway_id, Kind::InternetGateway, "DescribeInternetGateways";
    Subnet => subnet_id, Kind::Subnet, "DescribeSubnets";
    Address => allocation_id, Kind::ElasticIp, "DescribeAddresses";
    NatGateway => nat_gateway_id, Kind::NatGateway, "DescribeNatGateways";
    RouteTable => route_table_id, Kind::RouteTable, "DescribeRouteTables";
);

impl Ec2Resource for SecurityGroup {
    const KIND: Kind = Kind::SecurityGroup;
    const OPERATION: &'static str = "DescribeSecurityGroups";
    fn tags(&self) -> &[Tag] {
        SecurityGroup::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.group_id()
    }
    fn name(&self) -> Option<String> {
        self.group_name().map(str::to_owned)
    }
}

/// Records the resources of one EC2 kind that carry our tags, ids and all; `listed` is its
/// Describe call (filtered with `ec2_filters`), `read` gives the named resource the attributes
/// the desired state has. Every id is recorded before any resource is read: one may refer to
/// another of its kind (a security group's rules do). One without an id or a name is skipped.
async fn record_ec2<T, E, R>(
    listed: impl Future<Output = Result<Vec<T>, SdkError<E, R>>>,
    names: &Names<'_>,
    inventory: &mut Inventory,
    read: impl Fn(&T, Resource, &Ids) -> Resource,
) -> anyhow::Result<()>
where
    T: Ec2Resource,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let mut found = Vec::new();
    for item in listed.await.map_err(|e| explain(T::OPERATION, e))? {
        if !ours(item.tags(), names) {
            continue;
        }
        let (Some(id), Some(name)) = (item.id(), item.name()) else {
            continue;
        };
        inventory.ids.insert(T::KIND, &name, id);
        found.push((name, item));
    }
    for (name, item) in found {
        let resource = read(&item, Resource::new(T::KIND, name), &inventory.ids);
        inventory.resources.push(resource);
    }
    Ok(())
}

/// ELBv2 has no tag filter on Describe: of `all`, what DescribeTags says is ours, with its tags.
async fn elb_ours<T>(
    aws: &Aws,
    names: &Names<'_>,
    all: Vec<T>,
    arn: impl Fn(&T) -> Option<&str>,
) -> anyhow::Result<Vec<(T, BTreeMap<String, String>)>> {
    let arns: Vec<String> = all
        .iter()
        .filter_map(|item| arn(item).map(str::to_owned))
        .collect();
    let mut tagged: BTreeMap<_, _> = super::balancer::tags_of(aws, &arns)
        .await?
        .into_iter()
        .filter(|(_, tags)| names.own(|key| tags.get(key).map(String::as_str)))
        .collect();
    Ok(all
        .into_iter()
        .filter_map(|item| {
            let tags = tagged.remove(arn(&item)?)?;
            Some((item, tags))
        })
        .collect())
}

pub async fn inventory(aws: &Aws, spec: &Spec) -> anyhow::Result<Inventory> {
    let names = Names::new(spec);
    let mut inventory = Inventory::default();
    network(aws, &names, &mut inventory).await?;
    security_groups(aws, &names, &mut inventory).await?;
    super::database::discover(aws, spec, &mut inventory).await?;
    balancers(aws, &names, &mut inventory).await?;
    super::alarms::discover(aws, spec, &mut inventory).await?;
    logs_and_roles(aws, &names, &mut inventory).await?;
    let live = super::colors::live_colors(spec, &inventory);
    cluster(aws, &names, &live, &mut inventory).await?;
    Ok(inventory)
}

/// Every page of the EC2 Describe call `$describe`, filtered to what carries our tags
/// (`$set_filters` is the request's filter setter: NAT gateways' is `set_filter`).
macro_rules! every_ours {
    ($aws:expr, $names:expr, $describe:ident, $set_filters:ident) => {
        $aws.ec2
            .$describe()
            .$set_filters(Some(ec2_filters($names.app, $names.environment)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
    };
}

async fn network(aws: &Aws, names: &Names<'_>, inventory: &mut Inventory) -> anyhow::Result<()> {
    let vpcs = every_ours!(aws, names, describe_vpcs, set_filters);
    record_ec2(vpcs, names, inventory, vpc).await?;
    let gateways = every_ours!(aws, names, describe_internet_gateways, set_filters);
    record_ec2(gateways, names, inventory, internet_gateway).await?;
    let subnets = every_ours!(aws, names, describe_subnets, set_filters);
    record_ec2(subnets, names, inventory, subnet).await?;
    // DescribeAddresses does not page.
    let addresses = aws
        .ec2
        .describe_addresses()
        .set_filters(Some(ec2_filters(names.app, names.environment)))
        .send();
    let addresses = async { addresses.await.map(|out| out.addresses().to_vec()) };
    record_ec2(addresses, names, inventory, elastic_ip).await?;
    // A deleted NAT gateway stays listed for an hour.
    let nats = every_ours!(aws, names, describe_nat_gateways, set_filter);
    let nats = async {
        let nats: Vec<NatGateway> = nats.await?;
        Ok(nats
            .into_iter()
            .filter(|nat| {
                !matches!(
                    nat.state().map(|state| state.as_str()),
                    Some("deleted" | "deleting" | "failed")
                )
            })
            .collect())
    };
    record_ec2(nats, names, inventory, nat_gateway).await?;
    let tables = every_ours!(aws, names, describe_route_tables, set_filters);
    record_ec2(tables, names, inventory, route_table).await
}

fn vpc(vpc: &Vpc, resource: Resource, _: &Ids) -> Resource {
    resource.attr("cidr", vpc.cidr_block().unwrap_or_default())
}

fn internet_gateway(gateway: &InternetGateway, resource: Resource, ids: &Ids) -> Resource {
    let vpc = gateway
        .attachments()
        .first()
        .and_then(|attachment| attachment.vpc_id());
    resource.attr("vpc", ids.named(Kind::Vpc, vpc))
}

fn subnet(subnet: &Subnet, resource: Resource, _: &Ids) -> Resource {
    resource
        .attr("cidr", subnet.cidr_block().unwrap_or_default())
        .attr("az", subnet.availability_zone().unwrap_or_default())
        .attr("tier", ec2_tag(subnet.tags(), TAG_TIER).unwrap_or_default())
}

/// An elastic IP is all name: nothing else about it is compared.
fn elastic_ip(_: &Address, resource: Resource, _: &Ids) -> Resource {
    resource
}

fn nat_gateway(nat: &NatGateway, resource: Resource, ids: &Ids) -> Resource {
    let eip = nat
        .nat_gateway_addresses()
        .first()
        .and_then(|address| address.allocation_id());
    resource
        .attr("subnet", ids.named(Kind::Subnet, nat.subnet_id()))
        .attr("eip", ids.named(Kind::ElasticIp, eip))
}

fn route_table(table: &RouteTable, resource: Resource, ids: &Ids) -> Resource {
    let default_route = table
        .routes()
        .iter()
        .find(|route| route.destination_cidr_block() == Some("0.0.0.0/0"));
    let route = match default_route {
        Some(route) if route.nat_gateway_id().is_some() => {
            format!(
                "nat:{}",
                ids.named(Kind::NatGateway, route.nat_gateway_id())
            )
        }
        Some(route) if route.gateway_id().is_some() => {
            format!(
                "igw:{}",
                ids.named(Kind::InternetGateway, route.gateway_id())
            )
        }
        _ => String::new(),
    };
    let subnets = table
        .associations()
        .iter()
        .filter_map(|association| association.subnet_id())
        .filter_map(|subnet| ids.name_of(Kind::Subnet, subnet))
        .collect();
    resource
        .attr("route", route)
        .attr("subnets", joined(subnets))
}

async fn security_groups(
    aws: &Aws,
    names: &Names<'_>,
    inventory: &mut Inventory,
) -> anyhow::Result<()> {
    let groups = every_ours!(aws, names, describe_security_groups, set_filters);
    record_ec2(groups, names, inventory, security_group).await
}

fn security_group(group: &SecurityGroup, resource: Resource, ids: &Ids) -> Resource {
    let mut rules = Vec::new();
    for permission in group.ip_permissions() {
        let protocol = permission.ip_protocol().unwrap_or("-1");
        let port = permission
            .from_port()
            .map_or_else(|| "all".to_owned(), |port| port.to_string());
        for range in permission.ip_ranges() {
            rules.push(format!(
                "{protocol}/{port} from {}",
                range.cidr_ip().unwrap_or_default()
            ));
        }
        for pair in permission.user_id_group_pairs() {
            let source = pair
                .group_id()
                .and_then(|id| ids.name_of(Kind::SecurityGroup, id))
                .unwrap_or_else(|| pair.group_id().unwrap_or_default().to_owned());
            rules.push(format!("{protocol}/{port} from sg:{source}"));
        }
    }
    let mut resource = resource.attr("rules", joined(rules));
    resource.service = ec2_tag(group.tags(), TAG_SERVICE);
    resource
}

async fn balancers(aws: &Aws, names: &Names<'_>, inventory: &mut Inventory) -> anyhow::Result<()> {
    let all = aws
        .elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("DescribeLoadBalancers", e))?;
    for (lb, _) in elb_ours(aws, names, all, |lb| lb.load_balancer_arn()).await? {
        let (Some(arn), Some(name)) = (lb.load_balancer_arn(), lb.load_balancer_name()) else {
            continue;
        };
        inventory.ids.insert(Kind::LoadBalancer, name, arn);
        inventory.ids.dns.insert(
            name.to_owned(),
            lb.dns_name().unwrap_or_default().to_owned(),
        );
        let group = inventory.ids.named(
            Kind::SecurityGroup,
            lb.security_groups().first().map(String::as_str),
        );
        let scheme = lb
            .scheme()
            .map(|scheme| scheme.as_str().to_owned())
            .unwrap_or_default();
        let tier = if scheme == "internal" {
            "private"
        } else {
            "public"
        };
        inventory.resources.push(
            Resource::new(Kind::LoadBalancer, name)
                .attr("scheme", scheme)
                .attr("subnets", tier)
                .attr("security_group", group),
        );
    }

    let groups = aws
        .elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("DescribeTargetGroups", e))?;
    for (group, tags) in elb_ours(aws, names, groups, |group| group.target_group_arn()).await? {
        let (Some(arn), Some(name)) = (group.target_group_arn(), group.target_group_name()) else {
            continue;
        };
        inventory.ids.insert(Kind::TargetGroup, name, arn);
        let attributes = aws
            .elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| explain("DescribeTargetGroupAttributes", e))?;
        let deregistration_delay = attributes
            .attributes()
            .iter()
            .find(|attribute| attribute.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|attribute| attribute.value())
            .unwrap_or("300");
        let mut resource = Resource::new(Kind::TargetGroup, name)
            .attr("port", group.port().unwrap_or_default().to_string())
            .attr("deregistration_delay", format!("{deregistration_delay}s"))
            .attr(
                "health",
                format!(
                    "{} every {}s, timeout {}s, healthy {}, unhealthy {}",
                    group.health_check_path().unwrap_or_default(),
                    group.health_check_interval_seconds().unwrap_or_default(),
                    group.health_check_timeout_seconds().unwrap_or_default(),
                    group.healthy_threshold_count().unwrap_or_default(),
                    group.unhealthy_threshold_count().unwrap_or_default()
                ),
            );
        resource.service = tags.get(TAG_SERVICE).cloned();
        inventory.resources.push(resource);
    }

    let balancers: Vec<(String, String)> = inventory
        .resources
        .iter()
        .filter(|resource| resource.kind == Kind::LoadBalancer)
        .filter_map(|resource| {
            inventory
                .ids
                .get(Kind::LoadBalancer, &resource.name)
                .map(|arn| (resource.name.clone(), arn.to_owned()))
        })
        .collect();
    for (lb_name, lb_arn) in balancers {
        let listeners = aws
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .map_err(|e| explain("DescribeListeners", e))?;
        for listener in listeners.listeners() {
            let (Some(arn), Some(port)) = (listener.listener_arn(), listener.port()) else {
                continue;
            };
            let name = format!("{lb_name}:{port}");
            // A listener changed by hand to something dashctl does not model shows in the plan
            // as an update back to what the spec says.
            let action = listener
                .default_actions()
                .first()
                .map(|action| ListenerAction::from_aws(action, &inventory.ids));
            let service = action
                .as_ref()
                .and_then(|action| action.as_ref().ok())
                .and_then(|action| action.groups().first().map(|group| (*group).to_owned()))
                .and_then(|group| model::find(&inventory.resources, Kind::TargetGroup, &group))
                .and_then(|group| group.service.clone());
            inventory.ids.insert(Kind::Listener, &name, arn);
            let mut resource = Resource::new(Kind::Listener, name)
                .attr(
                    "protocol",
                    listener
                        .protocol()
                        .map(|protocol| protocol.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr(
                    "action",
                    match action {
                        Some(Ok(action)) => action.to_string(),
                        Some(Err(error)) => format!("({error})"),
                        None => "(none)".to_owned(),
                    },
                );
            if let Some(certificate) = listener
                .certificates()
                .first()
                .and_then(|certificate| certificate.certificate_arn())
            {
                resource = resource.attr("certificate", certificate);
            }
            if let Some(policy) = listener.ssl_policy() {
                resource = resource.attr("tls_policy", policy);
            }
            resource.service = service;
            inventory.resources.push(resource);
        }
    }
    Ok(())
}

async fn logs_and_roles(
    aws: &Aws,
    names: &Names<'_>,
    inventory: &mut Inventory,
) -> anyhow::Result<()> {
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(names.log_group_prefix())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("DescribeLogGroups", e))?;
    for group in &groups {
        let Some(name) = group.log_group_name() else {
            continue;
        };
        inventory.ids.insert(Kind::LogGroup, name, name);
        let service = name.rsplit('/').next().map(str::to_owned);
        let mut resource = Resource::new(Kind::LogGroup, name).attr(
            "retention_days",
            group
                .retention_in_days()
                .map(|days| days.to_string())
                .unwrap_or_default(),
        );
        resource.service = service;
        inventory.resources.push(resource);
    }
    let roles = aws
        .iam
        .list_roles()
        .path_prefix(names.role_path())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("ListRoles", e))?;
    for role in &roles {
        let name = role.role_name();
        inventory.ids.insert(Kind::Role, name, role.arn());
        let attached: Vec<_> = aws
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| explain("ListAttachedRolePolicies", e))?;
        let managed = joined(
            attached
                .iter()
                .filter_map(|policy| policy.policy_arn().map(str::to_owned))
                .collect(),
        );
        let secrets = match aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name("read-secrets")
            .send()
            .await
        {
            Ok(policy) => super::identity::secrets_in_policy(policy.policy_document()),
            Err(_) => String::new(),
        };
        let trust = role
            .assume_role_policy_document()
            .map(super::identity::decode_policy)
            .filter(|document| document.contains("ecs-tasks.amazonaws.com"))
            .map_or_else(String::new, |_| "ecs-tasks.amazonaws.com".to_owned());
        let service = name
            .strip_prefix(&format!("{}-", names.base()))
            .and_then(|rest| rest.strip_suffix("-task"))
            .map(str::to_owned);
        // ListRoles leaves the permissions boundary out; GetRole has it.
        let boundary = aws
            .iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| explain("GetRole", e))?
            .role()
            .and_then(|role| role.permissions_boundary())
            .and_then(|boundary| boundary.permissions_boundary_arn())
            .unwrap_or_default()
            .to_owned();
        let mut resource = Resource::new(Kind::Role, name)
            .attr("trust", trust)
            .attr("managed", managed)
            .attr("boundary", boundary)
            .attr("secrets", secrets);
        resource.service = service;
        inventory.resources.push(resource);
    }
    Ok(())
}

async fn cluster(
    aws: &Aws,
    names: &Names<'_>,
    live: &BTreeMap<String, crate::rollout::Color>,
    inventory: &mut Inventory,
) -> anyhow::Result<()> {
    let base = names.base();
    let clusters = aws
        .ecs
        .describe_clusters()
        .clusters(&base)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(|e| explain("DescribeClusters", e))?;
    let Some(cluster) = clusters
        .clusters()
        .iter()
        .find(|cluster| cluster.status() == Some("ACTIVE"))
    else {
        return Ok(());
    };
    // The name alone proves nothing: another app's cluster may carry it.
    if !ecs_ours(cluster.tags(), names) {
        anyhow::bail!(
            "an ECS cluster named {base} exists but is not tagged {TAG_APP}={} / {TAG_ENVIRONMENT}={}; dashctl will not touch it (choose another app or environment name)",
            names.app,
            names.environment
        );
    }
    inventory.ids.insert(
        Kind::Cluster,
        &base,
        cluster.cluster_arn().unwrap_or_default(),
    );
    inventory
        .resources
        .push(Resource::new(Kind::Cluster, &base));

    let arns: Vec<String> = aws
        .ecs
        .list_services()
        .cluster(&base)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| explain("ListServices", e))?;
    for service in super::cluster::describe_services(aws, &base, &arns).await? {
        if service.status() != Some("ACTIVE") || !ecs_ours(service.tags(), names) {
            continue;
        }
        let Some(name) = service.service_name() else {
            continue;
        };
        // dashctl's names say whose it is: `{app}-{env}-{service}-{color}`.
        let owner = name
            .strip_prefix(&format!("{}-", names.base()))
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(service, _)| service.to_owned());
        inventory.ids.insert(
            Kind::EcsService,
            name,
            service.service_arn().unwrap_or_default(),
        );
        let group = service
            .load_balancers()
            .first()
            .and_then(|lb| lb.target_group_arn());
        let group = inventory.ids.named(Kind::TargetGroup, group);
        let security_group = service
            .network_configuration()
            .and_then(|network| network.awsvpc_configuration())
            .and_then(|vpc| vpc.security_groups().first())
            .map(String::as_str);
        let security_group = inventory.ids.named(Kind::SecurityGroup, security_group);
        let task_definition = service.task_definition().unwrap_or_default().to_owned();
        let family =
            super::cluster::describe_task_definition(aws, &task_definition, inventory).await?;
        let mut resource = Resource::new(Kind::EcsService, name)
            .attr(
                "task_definition",
                family
                    .as_ref()
                    .map(|family| family.name.clone())
                    .unwrap_or_default(),
            )
            .attr("target_group", group)
            .attr("security_group", security_group);
        resource.service = owner.clone();
        inventory.resources.push(resource);
        // The family's current state is what the live color runs.
        let is_live = owner
            .as_ref()
            .and_then(|owner| live.get(owner))
            .is_some_and(|color| name.ends_with(&format!("-{color}")));
        if let Some(mut family) = family
            && is_live
            && model::find(&inventory.resources, Kind::TaskDefinition, &family.name).is_none()
        {
            family.service = owner.clone();
            inventory
                .ids
                .insert(Kind::TaskDefinition, &family.name, &task_definition);
            inventory.resources.push(family);
        }
        super::scaling::discover(aws, names, name, owner.as_deref(), inventory).await?;
    }
    Ok(())
}
