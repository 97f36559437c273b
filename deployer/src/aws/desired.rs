//! What the spec asks for, as resources.

use std::collections::BTreeMap;

use super::database;
use super::listener_action::ListenerAction;
use super::model::{Ids, Kind, Resource};
use super::names::Names;
use crate::rollout::Color;
use crate::spec::template::{Placeholder, expand};
use crate::spec::{NatMode, Service as ServiceSpec, Spec};

/// Stands in for a load balancer's DNS name in a plan, before the load balancer exists.
pub const UNKNOWN_DNS: &str = "(known after apply)";

/// Subnet CIDRs: the VPC split into 16 equal blocks; public subnets take blocks 0.., private
/// ones blocks 8.. (validation keeps AZs at 6 or fewer and the VPC at /23 or larger, so every
/// subnet is /27 or larger).
fn subnet_cidr(spec: &Spec, index: usize) -> String {
    let network = spec.network.cidr;
    let prefix = (network.prefix_len() + 4).min(27);
    network
        .subnets(prefix)
        .ok()
        .and_then(|mut subnets| subnets.nth(index))
        .map_or_else(String::new, |subnet| subnet.to_string())
}

/// The AWS managed policy ECS task execution roles use, in the caller's partition.
pub fn ecs_task_execution_policy(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
}

/// IAM policies need ARNs. A secret given as an SSM parameter name (which ECS accepts) becomes
/// the ARN of exactly that parameter, in any region and account the role is used in. A Secrets
/// Manager ARN names the secret only: without its random six-character suffix it matches
/// nothing, so it gets `-??????`; a JSON key or version after the name is not part of it.
pub fn secret_arn(value: &str, partition: &str) -> String {
    if !value.starts_with("arn:") {
        return format!(
            "arn:{partition}:ssm:*:*:parameter/{}",
            value.trim_start_matches('/')
        );
    }
    let parts: Vec<&str> = value.split(':').collect();
    if parts.get(2) != Some(&"secretsmanager") || parts.len() < 7 {
        return value.to_owned();
    }
    let name = parts[6];
    let has_suffix = name.rsplit_once('-').is_some_and(|(_, suffix)| {
        suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let name = if has_suffix {
        name.to_owned()
    } else {
        format!("{name}-??????")
    };
    format!("{}:{name}", parts[..6].join(":"))
}

/// The URL a service is reached at: the public load balancer, or the internal one on the
/// service's port.
pub fn service_url(spec: &Spec, service: &str, dns: &BTreeMap<String, String>) -> String {
    let names = Names::new(spec);
    let Some(definition) = spec.services.get(service) else {
        return String::new();
    };
    let lb = names.load_balancer(definition.public);
    let host = dns.get(&lb).map_or(UNKNOWN_DNS, String::as_str);
    if definition.public {
        let scheme = if spec.aws.certificate_arn.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    } else {
        format!("http://{host}:{}", definition.port)
    }
}

fn joined<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut all: Vec<String> = items.into_iter().collect();
    all.sort();
    all.join("; ")
}

/// Where the app goes: its availability zones and the AWS partition (`aws`, `aws-cn`,
/// `aws-us-gov`) that ARNs are written in.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub azs: &'a [String],
    pub partition: &'a str,
}

/// Every resource the spec asks for. `azs` are the availability zones to use; `known` what AWS
/// has assigned so far (load balancers' DNS names, databases' endpoints).
pub fn resources(
    spec: &Spec,
    place: &Placement<'_>,
    known: &Ids,
    live: &BTreeMap<String, Color>,
) -> Vec<Resource> {
    let names = Names::new(spec);
    let mut out = network(spec, &names, place.azs);
    out.extend(load_balancers(spec, &names));
    out.extend(databases(spec, &names));
    out.extend(execution_role_and_cluster(
        spec,
        &names,
        place.partition,
        known,
    ));
    for (name, service) in &spec.services {
        let live_color = live.get(name).copied().unwrap_or(Color::Blue);
        out.push(tasks_group(&names, name, service));
        out.extend(target_groups(&names, name, service));
        out.extend(listeners(spec, &names, name, service, live_color));
        out.extend(alarms(&names, name, service));
        out.extend(logs_and_task_role(spec, &names, name));
        out.push(task_definition(spec, &names, name, service, known));
        out.push(
            Resource::new(Kind::EcsService, names.colored(name, live_color))
                .service(name)
                .attr("task_definition", names.family(name))
                .attr("target_group", names.colored(name, live_color))
                .attr("security_group", names.tasks_group(name)),
        );
        let (target, policy) = scaling(spec, name, live_color);
        out.push(target);
        out.push(policy);
    }
    out
}

/// The VPC, its internet gateway, a public and a private subnet per AZ, the NAT gateways with
/// their addresses, and the route tables.
fn network(spec: &Spec, names: &Names<'_>, azs: &[String]) -> Vec<Resource> {
    let base = names.base();
    let mut out = Vec::new();
    out.push(Resource::new(Kind::Vpc, &base).attr("cidr", spec.network.cidr.to_string()));
    out.push(Resource::new(Kind::InternetGateway, &base).attr("vpc", &base));
    for (index, az) in azs.iter().enumerate() {
        for (tier, block) in [("public", index), ("private", 8 + index)] {
            out.push(
                Resource::new(Kind::Subnet, names.subnet(tier, index))
                    .attr("cidr", subnet_cidr(spec, block))
                    .attr("az", az)
                    .attr("tier", tier),
            );
        }
    }
    let nat_count = match spec.network.nat {
        NatMode::Shared => 1,
        NatMode::PerAz => azs.len(),
    };
    for index in 0..nat_count {
        out.push(Resource::new(Kind::ElasticIp, names.nat(index)));
        out.push(
            Resource::new(Kind::NatGateway, names.nat(index))
                .attr("subnet", names.subnet("public", index))
                .attr("eip", names.nat(index)),
        );
    }
    out.push(
        Resource::new(Kind::RouteTable, names.public_route_table())
            .attr("route", format!("igw:{base}"))
            .attr(
                "subnets",
                joined((0..azs.len()).map(|index| names.subnet("public", index))),
            ),
    );
    for index in 0..azs.len() {
        let nat = names.nat(if nat_count == 1 { 0 } else { index });
        out.push(
            Resource::new(Kind::RouteTable, names.private_route_table(index))
                .attr("route", format!("nat:{nat}"))
                .attr("subnets", names.subnet("private", index)),
        );
    }
    out
}

/// The public load balancer when a service is public, the internal one when one is internal,
/// each with its security group.
fn load_balancers(spec: &Spec, names: &Names<'_>) -> Vec<Resource> {
    let mut out = Vec::new();
    let has_public = spec.services.values().any(|service| service.public);
    let has_internal = spec.services.values().any(|service| !service.public);
    let callers = internal_callers(spec);
    if has_public {
        let mut rules = vec!["tcp/80 from 0.0.0.0/0".to_owned()];
        if spec.aws.certificate_arn.is_some() {
            rules.push("tcp/443 from 0.0.0.0/0".to_owned());
        }
        out.extend(load_balancer(names, true, rules));
    }
    if has_internal {
        // Only the tasks of services that reference an internal service may reach it.
        let rules = spec
            .services
            .iter()
            .filter(|(_, service)| !service.public)
            .flat_map(|(name, service)| {
                callers
                    .get(name.as_str())
                    .into_iter()
                    .flatten()
                    .map(move |caller| {
                        format!("tcp/{} from sg:{}", service.port, names.tasks_group(caller))
                    })
            });
        out.extend(load_balancer(names, false, rules));
    }
    out
}

/// The public or the internal load balancer, and its security group admitting `rules`.
fn load_balancer(
    names: &Names<'_>,
    public: bool,
    rules: impl IntoIterator<Item = String>,
) -> [Resource; 2] {
    let (scheme, subnets) = if public {
        ("internet-facing", "public")
    } else {
        ("internal", "private")
    };
    [
        Resource::new(Kind::SecurityGroup, names.load_balancer_group(public))
            .attr("rules", joined(rules)),
        Resource::new(Kind::LoadBalancer, names.load_balancer(public))
            .attr("scheme", scheme)
            .attr("subnets", subnets)
            .attr("security_group", names.load_balancer_group(public)),
    ]
}

/// Who calls which internal service: from `${services.X.url}` references in env.
fn internal_callers(spec: &Spec) -> BTreeMap<&str, Vec<&str>> {
    let mut callers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, service) in &spec.services {
        for value in service.env.values() {
            for placeholder in crate::spec::template::placeholders(value) {
                if let Placeholder::ServiceUrl(target) = placeholder
                    && let Some((target_name, target)) = spec.services.get_key_value(&target)
                    && !target.public
                {
                    callers
                        .entry(target_name.as_str())
                        .or_default()
                        .push(name.as_str());
                }
            }
        }
    }
    callers
}

/// Each database: its security group (PostgreSQL's port from the tasks of the services that
/// use it, nothing else), its DB subnet group (the private subnets) and the instance.
fn databases(spec: &Spec, names: &Names<'_>) -> Vec<Resource> {
    let mut out = Vec::new();
    for (key, definition) in &spec.databases {
        let clients = spec
            .services
            .iter()
            .filter(|(_, service)| service.database.as_deref() == Some(key.as_str()))
            .map(|(client, _)| {
                format!(
                    "tcp/{} from sg:{}",
                    database::PORT,
                    names.tasks_group(client)
                )
            });
        out.push(
            Resource::new(Kind::SecurityGroup, names.database_group(key))
                .attr("rules", joined(clients)),
        );
        out.push(
            Resource::new(Kind::DbSubnetGroup, names.database(key)).attr("subnets", "private"),
        );
        out.push(database::desired(names, key, definition));
    }
    out
}

/// The secrets every service's tasks read, as the ARNs an IAM policy grants: the spec's own
/// and the password secrets of the databases they use (unknown until RDS has created them).
fn task_secrets(spec: &Spec, names: &Names<'_>, partition: &str, known: &Ids) -> String {
    joined(spec.services.values().flat_map(|service| {
        let database_secret = service.database.as_ref().map(|key| {
            known.databases.get(&names.database(key)).map_or_else(
                || UNKNOWN_DNS.to_owned(),
                |address| secret_arn(&address.secret_arn, partition),
            )
        });
        service
            .secrets
            .values()
            .map(|value| secret_arn(value, partition))
            .chain(database_secret)
            .collect::<Vec<_>>()
    }))
}

/// What every service's tasks share: the execution role (with every service's secrets) and
/// the cluster.
fn execution_role_and_cluster(
    spec: &Spec,
    names: &Names<'_>,
    partition: &str,
    known: &Ids,
) -> Vec<Resource> {
    let boundary = spec.aws.permissions_boundary.as_deref().unwrap_or_default();
    vec![
        Resource::new(Kind::Role, names.execution_role())
            .attr("trust", "ecs-tasks.amazonaws.com")
            .attr("managed", ecs_task_execution_policy(partition))
            .attr("boundary", boundary)
            .attr("secrets", task_secrets(spec, names, partition, known)),
        Resource::new(Kind::Cluster, names.base()),
    ]
}

/// The security group of `name`'s tasks: reachable from its load balancer only.
fn tasks_group(names: &Names<'_>, name: &str, service: &ServiceSpec) -> Resource {
    Resource::new(Kind::SecurityGroup, names.tasks_group(name))
        .service(name)
        .attr(
            "rules",
            format!(
                "tcp/{} from sg:{}",
                service.port,
                names.load_balancer_group(service.public)
            ),
        )
}

/// One target group per color.
fn target_groups(names: &Names<'_>, name: &str, service: &ServiceSpec) -> Vec<Resource> {
    let mut out = Vec::new();
    let health = &service.health;
    for color in [Color::Blue, Color::Green] {
        out.push(
            Resource::new(Kind::TargetGroup, names.colored(name, color))
                .service(name)
                .attr("port", service.port.to_string())
                .attr(
                    "deregistration_delay",
                    format!("{}s", service.deploy.deregistration_delay.0.as_secs()),
                )
                .attr(
                    "health",
                    format!(
                        "{} every {}s, timeout {}s, healthy {}, unhealthy {}",
                        health.path,
                        health.interval.0.as_secs(),
                        health.timeout.0.as_secs(),
                        health.healthy_threshold,
                        health.unhealthy_threshold
                    ),
                ),
        );
    }
    out
}

/// The listeners forwarding to `name`'s live color: HTTP, or HTTPS with a redirect from HTTP
/// when the spec has a certificate; an internal service's on its own port.
fn listeners(
    spec: &Spec,
    names: &Names<'_>,
    name: &str,
    service: &ServiceSpec,
    live_color: Color,
) -> Vec<Resource> {
    let lb = names.load_balancer(service.public);
    let mut out = Vec::new();
    let forward = ListenerAction::colors(names, name, live_color, 100).to_string();
    if service.public {
        match &spec.aws.certificate_arn {
            Some(certificate) => {
                out.push(
                    Resource::new(Kind::Listener, format!("{lb}:443"))
                        .service(name)
                        .attr("protocol", "HTTPS")
                        .attr("action", &forward)
                        .attr("certificate", certificate)
                        .attr("tls_policy", super::balancer::TLS_POLICY),
                );
                out.push(
                    Resource::new(Kind::Listener, format!("{lb}:80"))
                        .service(name)
                        .attr("protocol", "HTTP")
                        .attr("action", ListenerAction::RedirectToHttps.to_string()),
                );
            }
            None => out.push(
                Resource::new(Kind::Listener, format!("{lb}:80"))
                    .service(name)
                    .attr("protocol", "HTTP")
                    .attr("action", &forward),
            ),
        }
    } else {
        out.push(
            Resource::new(Kind::Listener, format!("{lb}:{}", service.port))
                .service(name)
                .attr("protocol", "HTTP")
                .attr("action", &forward),
        );
    }
    out
}

/// Per color, the alarms watched while it takes traffic.
fn alarms(names: &Names<'_>, name: &str, service: &ServiceSpec) -> Vec<Resource> {
    let lb = names.load_balancer(service.public);
    let mut out = Vec::new();
    // Watched while a new color takes traffic (canary steps and bake): either in ALARM
    // sends traffic back when `deploy.auto_rollback` is on.
    for color in [Color::Blue, Color::Green] {
        let group = names.colored(name, color);
        out.push(
            Resource::new(Kind::Alarm, names.alarm(name, color, "5xx"))
                .service(name)
                .attr("metric", "HTTPCode_Target_5XX_Count")
                .attr(
                    "threshold",
                    format!("> {} per minute", service.deploy.max_5xx_per_minute),
                )
                .attr("target_group", &group)
                .attr("load_balancer", &lb),
        );
        out.push(
            Resource::new(Kind::Alarm, names.alarm(name, color, "unhealthy"))
                .service(name)
                .attr("metric", "UnHealthyHostCount")
                .attr("threshold", "> 0 for 2 minutes")
                .attr("target_group", &group)
                .attr("load_balancer", &lb),
        );
    }
    out
}

/// `name`'s log group and the role its tasks run as.
fn logs_and_task_role(spec: &Spec, names: &Names<'_>, name: &str) -> Vec<Resource> {
    let boundary = spec.aws.permissions_boundary.as_deref().unwrap_or_default();
    vec![
        Resource::new(Kind::LogGroup, names.log_group(name))
            .service(name)
            .attr("retention_days", spec.aws.log_retention_days.to_string()),
        Resource::new(Kind::Role, names.task_role(name))
            .service(name)
            .attr("trust", "ecs-tasks.amazonaws.com")
            .attr("managed", "")
            .attr("boundary", boundary)
            .attr("secrets", ""),
    ]
}

/// What `name` runs: image, size, environment (service URLs resolved) and secrets.
fn task_definition(
    spec: &Spec,
    names: &Names<'_>,
    name: &str,
    service: &ServiceSpec,
    known: &Ids,
) -> Resource {
    let resolve = |placeholder: &Placeholder| match placeholder {
        Placeholder::ServiceUrl(target) => Some(service_url(spec, target, &known.dns)),
        _ => None,
    };
    let connection = service
        .database
        .as_ref()
        .and_then(|key| Some((key, spec.databases.get(key)?)))
        .map(|(key, definition)| {
            database::connection(
                definition.database_name(key),
                known.databases.get(&names.database(key)),
            )
        });
    let env = joined(
        service
            .env
            .iter()
            .map(|(key, value)| format!("{key}={}", expand(value, &resolve)))
            .chain(connection.iter().flat_map(|connection| {
                connection
                    .env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
            })),
    );
    Resource::new(Kind::TaskDefinition, names.family(name))
        .service(name)
        .attr("image", service.image.clone().unwrap_or_default())
        .attr("cpu", service.cpu.to_string())
        .attr("memory", service.memory.to_string())
        .attr("port", service.port.to_string())
        .attr("env", env)
        .attr(
            "secrets",
            joined(
                service
                    .secrets
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .chain(connection.iter().flat_map(|connection| {
                        connection
                            .secrets
                            .iter()
                            .map(|(key, value)| format!("{key}={value}"))
                    })),
            ),
        )
        .attr("execution_role", names.execution_role())
        .attr("task_role", names.task_role(name))
        .attr("log_group", names.log_group(name))
}

/// Request-count autoscaling of `service`'s `color`: its scalable target and target-tracking
/// policy.
pub fn scaling(spec: &Spec, service: &str, color: Color) -> (Resource, Resource) {
    let names = Names::new(spec);
    let scaling = spec
        .services
        .get(service)
        .map(|definition| definition.scaling.clone())
        .unwrap_or_default();
    let resource_id = names.scalable_resource(&names.colored(service, color));
    let target = Resource::new(Kind::ScalableTarget, &resource_id)
        .service(service)
        .attr("min", scaling.min.to_string())
        .attr("max", scaling.max.to_string());
    let policy = Resource::new(Kind::ScalingPolicy, names.scaling_policy(service))
        .service(service)
        .attr("scalable_target", &resource_id)
        .attr("metric", "ALBRequestCountPerTarget")
        .attr("target_group", names.colored(service, color))
        .attr(
            "requests_per_target",
            scaling.requests_per_target.to_string(),
        )
        .attr(
            "scale_in_cooldown",
            scaling.scale_in_cooldown.0.as_secs().to_string(),
        )
        .attr(
            "scale_out_cooldown",
            scaling.scale_out_cooldown.0.as_secs().to_string(),
        );
    (target, policy)
}

/// The idle color's ECS service belongs to rollouts, not to the plan: whatever it runs (a
/// previous release kept for rollback, scaled to zero or kept warm) is kept as it is, and so
/// is the scalable target that carries its `keep_previous` window.
pub fn keep_idle(
    wanted: &mut Vec<Resource>,
    existing: &[Resource],
    spec: &Spec,
    live: &BTreeMap<String, Color>,
) {
    let names = Names::new(spec);
    for (service, color) in live {
        let idle = names.colored(service, color.other());
        let window = names.scalable_resource(&idle);
        wanted.extend(
            existing
                .iter()
                .filter(|resource| {
                    (resource.kind == Kind::EcsService && resource.name == idle)
                        || (resource.kind == Kind::ScalableTarget && resource.name == window)
                })
                .cloned(),
        );
    }
}

/// Everything the spec wants, plus the idle colors rollouts keep.
pub fn wanted(
    spec: &Spec,
    place: &Placement<'_>,
    known: &Ids,
    live: &BTreeMap<String, Color>,
    existing: &[Resource],
) -> Vec<Resource> {
    let mut all = resources(spec, place, known, live);
    keep_idle(&mut all, existing, spec, live);
    all
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::aws::model;

    fn spec(yaml: &str) -> Spec {
        crate::spec::parse(Path::new("spec.yaml"), yaml).expect("valid spec")
    }

    /// What a first deploy of `spec` wants in these zones (nothing exists, nothing is live).
    fn first_deploy(spec: &Spec, azs: &[&str], partition: &str) -> Vec<Resource> {
        let azs: Vec<String> = azs.iter().map(|zone| (*zone).to_owned()).collect();
        let place = Placement {
            azs: &azs,
            partition,
        };
        resources(spec, &place, &Ids::default(), &BTreeMap::new())
    }

    /// The wanted resource of `kind` named `name`.
    fn find<'a>(resources: &'a [Resource], kind: Kind, name: &str) -> &'a Resource {
        model::find(resources, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn https_gets_a_443_listener_and_port_80_redirects() {
        let spec = spec(
            "app: shop\nenvironment: prod\naws: { certificate_arn: 'arn:aws:acm:eu-west-1:1:certificate/x' }\nservices:\n  web: { port: 3000, public: true }\n",
        );
        let resources = first_deploy(&spec, &["eu-west-1a", "eu-west-1b"], "aws");
        let listener = |name: &str| find(&resources, Kind::Listener, name);
        let https = listener("shop-prod-public:443");
        assert_eq!(https.get("protocol"), "HTTPS");
        assert_eq!(
            https.get("certificate"),
            "arn:aws:acm:eu-west-1:1:certificate/x"
        );
        assert_eq!(
            https.get("tls_policy"),
            "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "TLS 1.2 and 1.3 only"
        );
        assert_eq!(
            https.get("action"),
            "forward: shop-prod-web-blue=100, shop-prod-web-green=0"
        );
        assert_eq!(
            listener("shop-prod-public:80").get("action"),
            "redirect: https"
        );
        let group = find(&resources, Kind::SecurityGroup, "shop-prod-public-alb");
        assert_eq!(
            group.get("rules"),
            "tcp/443 from 0.0.0.0/0; tcp/80 from 0.0.0.0/0"
        );
        assert_eq!(
            service_url(&spec, "web", &BTreeMap::new()),
            "https://(known after apply)"
        );
    }

    #[test]
    fn the_execution_role_reads_exactly_the_spec_secrets() {
        let spec = spec(
            "app: a\nenvironment: b\nservices:\n  web:\n    port: 80\n    public: true\n    secrets: { DB: /prod/db-password, KEY: 'arn:aws:secretsmanager:eu-west-1:1:secret:k' }\n",
        );
        let resources = first_deploy(&spec, &["x", "y"], "aws-cn");
        let role = find(&resources, Kind::Role, "a-b-execution");
        assert_eq!(
            role.get("secrets"),
            "arn:aws-cn:ssm:*:*:parameter/prod/db-password; arn:aws:secretsmanager:eu-west-1:1:secret:k-??????"
        );
        assert_eq!(
            role.get("managed"),
            "arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
        );
        let task = find(&resources, Kind::Role, "a-b-web-task");
        assert_eq!((task.get("managed"), task.get("secrets")), ("", ""));
    }

    #[test]
    fn secrets_manager_arns_match_their_random_suffix() {
        let full = "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC123";
        assert_eq!(secret_arn(full, "aws"), full);
        assert_eq!(
            secret_arn("arn:aws:secretsmanager:eu-west-1:1:secret:db", "aws"),
            "arn:aws:secretsmanager:eu-west-1:1:secret:db-??????"
        );
        assert_eq!(
            secret_arn(
                "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC123:password::",
                "aws"
            ),
            full,
            "a JSON key is not part of the secret's ARN"
        );
        assert_eq!(
            secret_arn("app/token", "aws-us-gov"),
            "arn:aws-us-gov:ssm:*:*:parameter/app/token"
        );
    }

    #[test]
    fn nat_per_az_and_subnet_layout() {
        let spec = spec(
            "app: a\nenvironment: b\nnetwork: { cidr: 10.9.0.0/16, azs: 3, nat: per-az }\nservices:\n  web: { port: 80, public: true }\n",
        );
        let resources = first_deploy(&spec, &["x1", "x2", "x3"], "aws");
        let count = |kind| resources.iter().filter(|r| r.kind == kind).count();
        assert_eq!(count(Kind::NatGateway), 3);
        assert_eq!(count(Kind::Subnet), 6);
        let subnet = |name: &str| find(&resources, Kind::Subnet, name).get("cidr").to_owned();
        assert_eq!(subnet("a-b-public-a"), "10.9.0.0/20");
        assert_eq!(subnet("a-b-private-c"), "10.9.160.0/20");
        let private_c = find(&resources, Kind::RouteTable, "a-b-private-c");
        assert_eq!(private_c.get("route"), "nat:a-b-nat-c");
    }
}
