//! Checks that need more than one field, or the whole spec: names that must fit AWS limits,
//! ranges, references between services. Each finding carries the YAML path it is about.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{Service, Spec};
use super::template::{Placeholder, placeholders};

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
        check_smoke_test(name, service, &mut findings);
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

/// Fargate's valid (cpu units -> memory MiB) combinations.
fn fargate_memory_ok(cpu: u32, memory: u32) -> Option<bool> {
    let ok = match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => (1024..=4096).contains(&memory) && memory % 1024 == 0,
        1024 => (2048..=8192).contains(&memory) && memory % 1024 == 0,
        2048 => (4096..=16384).contains(&memory) && memory % 1024 == 0,
        4096 => (8192..=30720).contains(&memory) && memory % 1024 == 0,
        8192 => (16384..=61440).contains(&memory) && memory % 4096 == 0,
        16384 => (32768..=122880).contains(&memory) && memory % 8192 == 0,
        _ => return None,
    };
    Some(ok)
}

/// `deploy.smoke_test`: a program to run, given time to run.
fn check_smoke_test(name: &str, service: &Service, findings: &mut Vec<Finding>) {
    let Some(smoke) = &service.deploy.smoke_test else {
        return;
    };
    let at = |field: &str| format!("services.{name}.deploy.smoke_test.{field}");
    if smoke
        .command
        .first()
        .is_none_or(|program| program.trim().is_empty())
    {
        findings.push(
            Finding::value(at("command"), "the smoke test names no program to run")
                .help("e.g. `command: [python3, scripts/smoke.py]`, relative to `local.workdir`"),
        );
    }
    if let Some((index, _)) = smoke
        .command
        .iter()
        .enumerate()
        .find(|(_, part)| !placeholders(part).is_empty())
    {
        findings.push(
            Finding::value(
                at(&format!("command.{index}")),
                "placeholders are not filled in in a smoke test's command",
            )
            .help("read DASHCTL_TEST_URL, DASHCTL_TEST_HEADER, DASHCTL_SERVICE and DASHCTL_COLOR from the environment instead"),
        );
    }
    if smoke.timeout.0.is_zero() {
        findings.push(Finding::value(
            at("timeout"),
            "a smoke test's timeout must be longer than 0s",
        ));
    }
}

fn check_service(spec: &Spec, name: &str, service: &Service, findings: &mut Vec<Finding>) {
    let at = |field: &str| format!("services.{name}.{field}");
    if !is_resource_name(name) {
        findings.push(
            Finding::key(
                format!("services.{name}"),
                format!("`{name}` is not a valid service name"),
            )
            .help(
                "use lower-case letters, digits and single inner hyphens, starting with a letter",
            ),
        );
    }
    let longest = longest_resource_name(spec, name);
    if longest.len() > MAX_AWS_NAME {
        findings.push(
            Finding::key(
                format!("services.{name}"),
                format!(
                    "resource name `{longest}` would be {} characters; AWS allows {MAX_AWS_NAME} for load balancer and target group names",
                    longest.len()
                ),
            )
            .help("shorten the app, environment or service name"),
        );
    }
    if service.port == 0 {
        findings.push(Finding::value(
            at("port"),
            "port 0 is not a port; expected 1-65535",
        ));
    }
    if service
        .image
        .as_deref()
        .is_some_and(|image| image.trim().is_empty())
    {
        findings.push(Finding::value(
            at("image"),
            "image is empty; expected e.g. `ghcr.io/org/portal:1.2.0`",
        ));
    }

    let health = &service.health;
    if !health.path.starts_with('/') {
        findings.push(Finding::value(
            at("health.path"),
            format!("health path `{}` must start with `/`", health.path),
        ));
    }
    let interval = health.interval.0;
    if !(Duration::from_secs(5)..=Duration::from_secs(300)).contains(&interval) {
        findings.push(Finding::value(
            at("health.interval"),
            format!(
                "health check interval {} is outside 5s-300s (AWS limits)",
                health.interval
            ),
        ));
    }
    if !(Duration::from_secs(2)..=Duration::from_secs(120)).contains(&health.timeout.0)
        || health.timeout.0 >= interval
    {
        findings.push(Finding::value(
            at("health.timeout"),
            format!(
                "health check timeout {} must be 2s-120s and shorter than the interval ({})",
                health.timeout, health.interval
            ),
        ));
    }
    for (field, value) in [
        ("health.healthy_threshold", health.healthy_threshold),
        ("health.unhealthy_threshold", health.unhealthy_threshold),
    ] {
        if !(2..=10).contains(&value) {
            findings.push(Finding::value(
                at(field),
                format!("{value} is outside 2-10 (AWS limits)"),
            ));
        }
    }

    match fargate_memory_ok(service.cpu, service.memory) {
        None => findings.push(
            Finding::value(
                at("cpu"),
                format!("{} is not a Fargate CPU size", service.cpu),
            )
            .help("use 256, 512, 1024, 2048, 4096, 8192 or 16384 (CPU units; 1024 = 1 vCPU)"),
        ),
        Some(false) => findings.push(
            Finding::value(
                at("memory"),
                format!(
                    "{} MiB is not valid with cpu {} on Fargate",
                    service.memory, service.cpu
                ),
            )
            .help("see the Fargate task size table: e.g. cpu 256 takes 512, 1024 or 2048"),
        ),
        Some(true) => {}
    }

    let scaling = &service.scaling;
    if scaling.max == 0 {
        findings.push(Finding::value(
            at("scaling.max"),
            "max is 0; expected at least 1",
        ));
    }
    if scaling.min > scaling.max {
        findings.push(Finding::value(
            at("scaling.min"),
            format!(
                "min ({}) is greater than max ({})",
                scaling.min, scaling.max
            ),
        ));
    }
    if scaling.requests_per_target == 0 {
        findings.push(Finding::value(
            at("scaling.requests_per_target"),
            "requests_per_target must be at least 1 (requests per target per minute)",
        ));
    }
    match (service.deploy.strategy, service.deploy.canary.is_empty()) {
        (crate::spec::Strategy::Canary, _) => {
            if let Err(problem) = crate::spec::parse_canary(&service.deploy.canary) {
                findings.push(Finding::value(at("deploy.canary"), problem));
            }
        }
        (crate::spec::Strategy::AllAtOnce, false) => findings.push(
            Finding::value(
                at("deploy.canary"),
                "canary steps are only used with `strategy: canary`",
            )
            .help("set `strategy: canary` or remove `canary`"),
        ),
        _ => {}
    }
    if service.deploy.deregistration_delay.0 > std::time::Duration::from_secs(3600) {
        findings.push(Finding::value(
            at("deploy.deregistration_delay"),
            "deregistration_delay must be 0s to 3600s (the target group limit)",
        ));
    }
    if service.deploy.health_timeout.0.is_zero() {
        findings.push(Finding::value(
            at("deploy.health_timeout"),
            "health_timeout must be longer than 0s",
        ));
    }

    // Placeholders in what a service is given: its env, and locally its command and env too
    // (where `{port}` and the like also apply).
    let given = service
        .env
        .iter()
        .map(|(key, value)| (format!("env.{key}"), value, false));
    let given_locally = service.local.iter().flat_map(|local| {
        let command = local
            .command
            .iter()
            .enumerate()
            .map(|(index, part)| (format!("local.command.{index}"), part, true));
        let env = local
            .env
            .iter()
            .map(|(key, value)| (format!("local.env.{key}"), value, true));
        command.chain(env)
    });
    for (path, text, local) in given.chain(given_locally) {
        check_placeholders(spec, name, &at(&path), text, local, findings);
    }
    for (key, value) in &service.secrets {
        if value.trim().is_empty() {
            findings.push(Finding::value(
                at(&format!("secrets.{key}")),
                "secret reference is empty; expected an SSM parameter or Secrets Manager ARN",
            ));
        }
    }
    if let Some(local) = &service.local {
        if local.command.is_empty() {
            findings.push(Finding::value(
                at("local.command"),
                "command is empty; expected a program and its arguments",
            ));
        }
        if service.public && local.listen_port.is_none() {
            findings.push(
                Finding::value(
                    at("local"),
                    "a public service needs `listen_port` to run locally",
                )
                .help("e.g. `listen_port: 8080`: the port its public proxy listens on"),
            );
        }
        if local.listen_port == Some(0) {
            findings.push(Finding::value(
                at("local.listen_port"),
                "listen_port 0 is not a port; leave it out for a free port",
            ));
        }
    }
}

/// The libpq variables dashctl sets in a service attached to a database.
pub const DATABASE_VARIABLES: [&str; 6] = [
    "PGHOST",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSSLMODE",
];

/// RDS limits (CreateDBInstance API reference): identifiers of at most 63 letters, digits and
/// hyphens; 20 GiB to 64 TiB of gp3 storage; at most 35 days of backups.
fn check_databases(spec: &Spec, findings: &mut Vec<Finding>) {
    for (key, database) in &spec.databases {
        let at = |field: &str| format!("databases.{key}.{field}");
        let identifier = format!("{}-{}-{key}", spec.app, spec.environment);
        if !is_resource_name(key) || identifier.len() > 63 {
            findings.push(
                Finding::key(
                    format!("databases.{key}"),
                    format!("`{key}` is not a valid database name (its RDS identifier would be `{identifier}`)"),
                )
                .help("use lower-case letters, digits and single inner hyphens, starting with a letter; RDS identifiers are at most 63 characters"),
            );
        }
        let name = database.database_name(key);
        let name_ok = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            findings.push(
                Finding::value(at("name"), format!("`{name}` cannot name a PostgreSQL database here"))
                    .help("use lower-case letters, digits and underscores, starting with a letter (a hyphenated key needs an explicit `name:`)"),
            );
        }
        if database.version.is_empty() || !database.version.bytes().all(|b| b.is_ascii_digit()) {
            findings.push(
                Finding::value(
                    at("version"),
                    format!("`{}` is not a major PostgreSQL version", database.version),
                )
                .help("e.g. `16`: RDS chooses the newest minor version of it"),
            );
        }
        let aws = &database.aws;
        if !aws.instance_class.starts_with("db.") {
            findings.push(
                Finding::value(
                    at("aws.instance_class"),
                    format!("`{}` is not an RDS instance class", aws.instance_class),
                )
                .help("e.g. `db.t4g.micro` or `db.m7g.large`"),
            );
        }
        if !(20..=65_536).contains(&aws.storage_gb) {
            findings.push(Finding::value(
                at("aws.storage_gb"),
                format!(
                    "{} GiB is outside what RDS allows (20 to 65536)",
                    aws.storage_gb
                ),
            ));
        }
        if aws.backup_retention_days > 35 {
            findings.push(Finding::value(
                at("aws.backup_retention_days"),
                format!(
                    "{} days; RDS keeps backups for at most 35",
                    aws.backup_retention_days
                ),
            ));
        }
    }
    for (name, service) in &spec.services {
        let Some(database) = &service.database else {
            continue;
        };
        let at = |field: &str| format!("services.{name}.{field}");
        if !spec.databases.contains_key(database) {
            let known: Vec<&str> = spec.databases.keys().map(String::as_str).collect();
            findings.push(
                Finding::value(at("database"), format!("no database named `{database}`"))
                    .help(if known.is_empty() {
                        "declare it under `databases:` (e.g. `databases: {main: {engine: postgres}}`)".to_owned()
                    } else {
                        format!("declared databases: {}", known.join(", "))
                    }),
            );
        }
        for variable in DATABASE_VARIABLES {
            for (field, set) in [
                ("env", service.env.contains_key(variable)),
                ("secrets", service.secrets.contains_key(variable)),
            ] {
                if set {
                    findings.push(
                        Finding::key(
                            at(&format!("{field}.{variable}")),
                            format!(
                                "{variable} is set by dashctl for services attached to a database"
                            ),
                        )
                        .help("remove it: `database:` provides the connection settings"),
                    );
                }
            }
        }
    }
}

fn check_placeholders(
    spec: &Spec,
    service: &str,
    path: &str,
    text: &str,
    local: bool,
    findings: &mut Vec<Finding>,
) {
    for placeholder in placeholders(text) {
        match &placeholder {
            Placeholder::ServiceUrl(target) if !spec.services.contains_key(target) => {
                let known: Vec<&str> = spec.services.keys().map(String::as_str).collect();
                findings.push(
                    Finding::value(path, format!("`${{services.{target}.url}}` refers to a service that does not exist"))
                        .help(format!("services in this spec: {}", known.join(", "))),
                );
            }
            Placeholder::ServiceUrl(target) if target == service => {
                findings.push(Finding::value(path, "a service cannot reference its own URL"));
            }
            Placeholder::Unknown(inner) => findings.push(
                Finding::value(path, format!("unknown placeholder `${{{inner}}}`"))
                    .help(if local {
                        "expected ${services.NAME.url}, ${port}, ${instance}, ${color} or ${state_dir}"
                    } else {
                        "expected ${services.NAME.url}"
                    }),
            ),
            other if other.is_local_only() && !local => findings.push(
                Finding::value(path, "this placeholder only exists for local instances")
                    .help("put it under `local.env` instead of `env`"),
            ),
            _ => {}
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
