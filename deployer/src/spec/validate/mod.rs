//! Checks that need more than one field, or the whole spec: names that must fit AWS limits,
//! ranges, references between services. Each finding carries the YAML path it is about.
//! Whole-spec checks are here; one service's in `service.rs`, the databases' in `database.rs`.

mod database;
mod service;

use std::collections::BTreeMap;

use super::model::Spec;

pub use database::DATABASE_VARIABLES;
use database::check_databases;
use service::check_service;

/// AWS caps load balancer and target group names at 32 characters.
pub const MAX_AWS_NAME: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted YAML path of what is wrong.
    pub path: String,
    /// Point at the key rather than the value (e.g. a name that is too long).
    pub at_key: bool,
    pub message: String,
    pub help: Option<String>,
}

impl Finding {
    fn value(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            at_key: false,
            message: message.into(),
            help: None,
        }
    }

    fn key(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at_key: true,
            ..Self::value(path, message)
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Lower-case letters, digits and inner hyphens: safe in every AWS name and DNS label.
fn is_resource_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && !name.contains("--")
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The longest name dashctl derives for a service: `{app}-{env}-{service}-green`.
pub fn longest_resource_name(spec: &Spec, service: &str) -> String {
    format!("{}-{}-{service}-green", spec.app, spec.environment)
}

pub fn check(spec: &Spec) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (field, value) in [("app", &spec.app), ("environment", &spec.environment)] {
        if !is_resource_name(value) {
            findings.push(
                Finding::value(field, format!("`{value}` is not a valid name"))
                    .help("use lower-case letters and digits, starting with a letter"),
            );
        }
    }
    // AWS names are `{app}-{environment}-...` and load balancer and target group names are
    // unique per account and region: with a hyphen in either part, `shop-eu`/`prod` and
    // `shop`/`eu-prod` would share every name.
    for (field, value) in [("app", &spec.app), ("environment", &spec.environment)] {
        if value.contains('-') && is_resource_name(value) {
            findings.push(
                Finding::value(field, format!("`{value}` contains a hyphen")).help(format!(
                    "{field} names have no hyphens so that `{{app}}-{{environment}}-` names one app and environment (`shop-eu`/`prod` and `shop`/`eu-prod` would collide); try `{}`",
                    value.replace('-', "")
                )),
            );
        }
    }
    check_aws_name_prefixes(spec, &mut findings);
    check_network(spec, &mut findings);
    check_tags(&spec.tags, "tags", &mut findings);
    if spec.services.is_empty() {
        findings.push(Finding::value(
            "services",
            "the spec defines no services; expected at least one",
        ));
    }
    for (name, service) in &spec.services {
        check_service(spec, name, service, &mut findings);
    }
    check_databases(spec, &mut findings);
    check_local_ports(spec, &mut findings);
    check_load_balancer_ports(spec, &mut findings);
    check_aws(spec, &mut findings);
    findings
}

/// Prefixes AWS refuses: load balancer names beginning `internal-`, security group names
/// beginning `sg-` (CreateLoadBalancer and CreateSecurityGroup API references).
fn check_aws_name_prefixes(spec: &Spec, findings: &mut Vec<Finding>) {
    let base = format!("{}-{}", spec.app, spec.environment);
    for (prefix, what) in [
        (
            "internal-",
            "load balancer names may not begin with `internal-`",
        ),
        ("sg-", "security group names may not begin with `sg-`"),
    ] {
        if format!("{base}-").starts_with(prefix) {
            findings.push(
                Finding::value("app", format!("AWS refuses `{base}-...`: {what}"))
                    .help("choose another app name"),
            );
        }
    }
}

/// CloudWatch Logs accepts only these retention periods.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn check_aws(spec: &Spec, findings: &mut Vec<Finding>) {
    if !LOG_RETENTION_DAYS.contains(&spec.aws.log_retention_days) {
        findings.push(
            Finding::value(
                "aws.log_retention_days",
                format!("{} days is not a CloudWatch Logs retention period", spec.aws.log_retention_days),
            )
            .help("use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
        );
    }
    if let Some(arn) = &spec.aws.permissions_boundary
        && !(arn.starts_with("arn:") && arn.contains(":policy/"))
    {
        findings.push(Finding::value(
            "aws.permissions_boundary",
            format!("`{arn}` is not a policy ARN; expected arn:aws:iam::ACCOUNT:policy/NAME"),
        ));
    }
    if let Some(arn) = &spec.aws.certificate_arn
        && !arn.starts_with("arn:")
    {
        findings.push(Finding::value(
            "aws.certificate_arn",
            format!("`{arn}` is not an ARN; expected arn:aws:acm:REGION:ACCOUNT:certificate/ID"),
        ));
    }
}

/// The public load balancer listens on 80 (and 443) for one public service; the internal
/// one listens on each internal service's own port, so those ports must differ.
fn check_load_balancer_ports(spec: &Spec, findings: &mut Vec<Finding>) {
    let public: Vec<&String> = spec
        .services
        .iter()
        .filter(|(_, service)| service.public)
        .map(|(name, _)| name)
        .collect();
    if let [first, second, ..] = public.as_slice() {
        findings.push(
            Finding::value(
                format!("services.{second}.public"),
                format!("both `{first}` and `{second}` are public; dashctl puts one public service behind the public load balancer"),
            )
            .help("make one of them internal, or split them into two specs"),
        );
    }
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for (name, service) in spec.services.iter().filter(|(_, service)| !service.public) {
        if let Some(other) = seen.insert(service.port, name) {
            findings.push(Finding::value(
                format!("services.{name}.port"),
                format!("internal services `{other}` and `{name}` both use port {}; the internal load balancer listens on each internal service's port", service.port),
            ));
        }
    }
}

fn check_network(spec: &Spec, findings: &mut Vec<Finding>) {
    let prefix = spec.network.cidr.prefix_len();
    if !(16..=23).contains(&prefix) {
        findings.push(
            Finding::value(
                "network.cidr",
                format!("a /{prefix} VPC is outside what dashctl supports (/16 to /23)"),
            )
            .help("dashctl splits the VPC into 16 blocks for one public and one private subnet per AZ; a load balancer needs subnets of /27 or larger, so the VPC must be /23 or larger"),
        );
    }
    if spec.network.cidr.addr() != spec.network.cidr.network() {
        findings.push(Finding::value(
            "network.cidr",
            format!(
                "{} has host bits set; did you mean {}?",
                spec.network.cidr,
                spec.network.cidr.trunc()
            ),
        ));
    }
    if !(2..=6).contains(&spec.network.azs) {
        findings.push(
            Finding::value(
                "network.azs",
                format!("{} availability zones; expected 2 to 6", spec.network.azs),
            )
            .help("an application load balancer needs subnets in at least two AZs"),
        );
    }
}

fn check_tags(tags: &BTreeMap<String, String>, path: &str, findings: &mut Vec<Finding>) {
    for (key, value) in tags {
        let at = format!("{path}.{key}");
        if key.starts_with("dashctl:") || key.starts_with("aws:") {
            findings.push(Finding::key(
                &at,
                format!("tag `{key}` uses a reserved prefix (`dashctl:` and `aws:` are set by dashctl and AWS)"),
            ));
        }
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            findings.push(Finding::key(
                &at,
                "tag keys must be 1-128 characters and values at most 256",
            ));
        }
    }
}

fn check_local_ports(spec: &Spec, findings: &mut Vec<Finding>) {
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for (name, service) in &spec.services {
        let Some(port) = service.local.as_ref().and_then(|local| local.listen_port) else {
            continue;
        };
        if let Some(other) = seen.insert(port, name) {
            findings.push(Finding::value(
                format!("services.{name}.local.listen_port"),
                format!("listen_port {port} is already used by service `{other}`"),
            ));
        }
    }
}
