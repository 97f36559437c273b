//! The spec's types: what a YAML file may say, with the defaults it gets when it says nothing
//! (a section whose every field may be left out is `#[serde(default)]` and takes each missing
//! field from its `Default` impl, so each default is written once). Field-level checks
//! (formats, ranges) live in the types' deserializers so serde reports them with a position;
//! checks that span fields live in `validate/`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Application name: the first part of every resource name and the `dashctl:app` tag.
    pub app: String,
    /// Environment name (`production`, `staging`, ...): the `dashctl:environment` tag.
    pub environment: String,
    #[serde(default)]
    pub aws: AwsSettings,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub local: LocalSettings,
    /// Extra tags put on every resource dashctl creates.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Where `deploy` and `rollback` act when `--env` is not given and no `dashctl up` runs
    /// this spec here. Unset: they refuse rather than guess AWS.
    #[serde(default)]
    pub default_env: Option<Target>,
    /// Databases services can attach to with `services.NAME.database`: RDS for PostgreSQL on
    /// AWS, a PostgreSQL server `dashctl up` runs locally.
    #[serde(default)]
    pub databases: BTreeMap<String, Database>,
    pub services: BTreeMap<String, Service>,
    /// The directory of the spec file (set by `spec::load`, never read from YAML): what
    /// `local.workdir` is relative to.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Spec {
    /// Where commands the spec names run: `local.workdir` relative to the spec file.
    pub fn workdir(&self) -> PathBuf {
        let base = if self.dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            self.dir.as_path()
        };
        base.join(&self.local.workdir)
    }
}

/// A database engine dashctl can run. Only PostgreSQL today: one engine the services, the local
/// platform and RDS all support alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[default]
    Postgres,
}

/// One database. Services that name it get the standard libpq variables (`PGHOST`, `PGPORT`,
/// `PGDATABASE`, `PGUSER`, `PGSSLMODE`, and `PGPASSWORD` as a secret): the password is never in
/// the spec; RDS keeps it in Secrets Manager, `dashctl up` in the state directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub engine: Engine,
    /// Major engine version on AWS (RDS picks the newest minor one); locally the installed one.
    #[serde(default = "default_postgres_version")]
    pub version: String,
    /// The database created inside the server (default: the key under `databases`).
    pub name: Option<String>,
    #[serde(default)]
    pub aws: DatabaseAws,
}

impl Database {
    pub fn database_name<'a>(&'a self, key: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(key)
    }
}

fn default_postgres_version() -> String {
    "16".to_owned()
}

/// RDS settings. The defaults are the safe ones: encrypted, backed up, protected from deletion.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseAws {
    pub instance_class: String,
    pub storage_gb: u32,
    /// Days of automated backups (point-in-time recovery); 0 turns backups off.
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    /// A standby in a second AZ with automatic failover (doubles the cost).
    pub multi_az: bool,
}

impl Default for DatabaseAws {
    fn default() -> Self {
        Self {
            instance_class: "db.t4g.micro".to_owned(),
            storage_gb: 20,
            backup_retention_days: 7,
            deletion_protection: true,
            multi_az: false,
        }
    }
}

/// A platform a spec can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Local,
    Aws,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsSettings {
    /// Region; falls back to the standard AWS configuration (AWS_REGION, profile).
    pub region: Option<String>,
    /// ACM certificate for an HTTPS listener on the public load balancer (HTTP then redirects).
    pub certificate_arn: Option<String>,
    /// Days CloudWatch keeps each service's logs.
    pub log_retention_days: u32,
    /// IAM policy ARN set as the permissions boundary of every role dashctl creates; the
    /// deploying principal's policy can then require it (README "AWS permissions").
    pub permissions_boundary: Option<String>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            certificate_arn: None,
            log_retention_days: 30,
            permissions_boundary: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub cidr: ipnet::Ipv4Net,
    pub azs: u8,
    pub nat: NatMode,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            cidr: ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 20, 0, 0), 16)
                .unwrap_or_default(),
            azs: 2,
            nat: NatMode::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// One NAT gateway for all private subnets: cheaper, one AZ's failure cuts egress.
    #[default]
    Shared,
    /// One NAT gateway per AZ: egress survives the loss of an AZ.
    PerAz,
}

/// How `dashctl up` runs the spec on this machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalSettings {
    /// Directory that commands and relative paths resolve against, relative to the spec file.
    pub workdir: PathBuf,
    /// Where logs, data and the control file live, relative to `workdir`.
    pub state_dir: PathBuf,
    /// Command run once before anything starts (e.g. `cargo build --release ...`).
    pub build: Vec<String>,
    /// Address the public proxies bind to. Loopback unless you mean to share the machine.
    pub public_address: IpAddr,
    /// How often each instance's health path is checked.
    pub health_interval: SpecDuration,
    /// How often the autoscaler evaluates, and the window it measures request rates over.
    pub autoscale_interval: SpecDuration,
    pub metric_window: SpecDuration,
    /// Longest wait for in-flight requests when an instance is drained.
    pub drain_timeout: SpecDuration,
    /// Longest a proxy waits for an instance's response head (an ALB's idle timeout is 60s).
    pub upstream_timeout: SpecDuration,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            workdir: PathBuf::from("."),
            state_dir: PathBuf::from(".dashctl"),
            build: Vec::new(),
            public_address: IpAddr::from([127, 0, 0, 1]),
            health_interval: SpecDuration(Duration::from_secs(1)),
            autoscale_interval: SpecDuration(Duration::from_secs(5)),
            metric_window: SpecDuration(Duration::from_secs(60)),
            drain_timeout: SpecDuration(Duration::from_secs(10)),
            upstream_timeout: SpecDuration(Duration::from_secs(60)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Container image (AWS). Locally, `local.command` runs instead.
    pub image: Option<String>,
    /// The port the service listens on inside its container / instance.
    pub port: u16,
    /// true: behind the internet-facing load balancer; false: internal load balancer only.
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub health: HealthCheck,
    /// Environment; values may reference `${services.NAME.url}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Secrets injected as environment variables: NAME -> SSM parameter or Secrets Manager ARN.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// A database from `databases` this service connects to (through the `PG*` variables).
    pub database: Option<String>,
    #[serde(default = "default_cpu")]
    pub cpu: u32,
    #[serde(default = "default_memory")]
    pub memory: u32,
    #[serde(default)]
    pub scaling: Scaling,
    #[serde(default)]
    pub deploy: DeployPolicy,
    pub local: Option<LocalService>,
}

fn default_cpu() -> u32 {
    256
}
fn default_memory() -> u32 {
    512
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheck {
    pub path: String,
    pub interval: SpecDuration,
    pub timeout: SpecDuration,
    pub healthy_threshold: u8,
    pub unhealthy_threshold: u8,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: "/readyz".to_owned(),
            interval: SpecDuration(Duration::from_secs(10)),
            timeout: SpecDuration(Duration::from_secs(5)),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        }
    }
}

/// Target tracking on requests per target per minute (AWS `ALBRequestCountPerTarget`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scaling {
    pub min: u32,
    pub max: u32,
    pub requests_per_target: u32,
    pub scale_in_cooldown: SpecDuration,
    pub scale_out_cooldown: SpecDuration,
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            min: 1,
            max: 1,
            requests_per_target: 1000,
            scale_in_cooldown: SpecDuration(Duration::from_secs(300)),
            scale_out_cooldown: SpecDuration(Duration::from_secs(60)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployPolicy {
    pub strategy: Strategy,
    /// Canary steps for `strategy: canary`, as percent/duration pairs: `[10%, 5m, 50%, 5m]`
    /// sends 10% of traffic to the new color for 5 minutes, then 50% for 5 minutes, then all.
    pub canary: Vec<String>,
    /// How long the new color must stay healthy while live before the old one is retired.
    pub bake: SpecDuration,
    /// How long the previous color stays up at its size after a release (e.g. `30m`): a
    /// rollback within that window only moves traffic, no task starts. Then it scales to zero
    /// by itself. `0s` (the default) retires it as soon as the new color has baked.
    pub keep_previous: SpecDuration,
    /// Switch back to the old color if the new one turns unhealthy while baking.
    pub auto_rollback: bool,
    /// Longest wait for the new color to become healthy before the deploy is abandoned.
    pub health_timeout: SpecDuration,
    /// AWS: target 5xx responses per minute that count as a failing release while it bakes.
    pub max_5xx_per_minute: u32,
    /// How long a target that leaves rotation may finish its requests (the target groups'
    /// deregistration delay; AWS's own default is 300s).
    pub deregistration_delay: SpecDuration,
    /// A command run against the new color through its test route once it is healthy, before
    /// it gets any traffic; failing or running out of time abandons the release.
    pub smoke_test: Option<SmokeTest>,
    /// Thresholds on the new color's load balancer metrics during canary steps and the bake;
    /// a breach abandons the canary or rolls the bake back. Absent: not judged on metrics.
    pub judge: Option<JudgePolicy>,
}

/// `deploy.judge`: the new color's 5xx share and p99 latency over each canary step and the
/// bake, against limits of their own and against the live color. At least one limit is set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgePolicy {
    /// Highest share of the new color's requests answered 5xx (e.g. `1%`).
    pub max_5xx_rate: Option<SpecPercent>,
    /// Highest excess of the new color's 5xx share over the live color's, in percentage
    /// points (`0.5%`: 0.2% live allows 0.7%).
    pub max_5xx_increase: Option<SpecPercent>,
    /// Highest p99 latency of the new color (e.g. `500ms`).
    pub max_p99: Option<SpecDuration>,
    /// Highest excess of the new color's p99 over the live color's, relative (`50%`: 200ms
    /// live allows 300ms).
    pub max_p99_increase: Option<SpecPercent>,
    /// Fewer requests than this to a color in a step gives no verdict (not a breach).
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
}

fn default_min_requests() -> u64 {
    20
}

/// A percentage written with its sign: `1%`, `0.5%`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct SpecPercent(pub f64);

impl fmt::Display for SpecPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl<'de> Deserialize<'de> for SpecPercent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expected = || serde::de::Error::custom("expected a percentage such as `1%` or `0.5%`");
        let text = String::deserialize(deserializer).map_err(|_| expected())?;
        text.trim()
            .strip_suffix('%')
            .and_then(|number| number.trim().parse::<f64>().ok())
            .filter(|number| number.is_finite())
            .map(Self)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid percentage `{text}`; expected e.g. `1%` or `0.5%`"
                ))
            })
    }
}

/// `deploy.smoke_test`: the gate a release passes before any production traffic reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeTest {
    /// Program and arguments (no shell, no placeholders), run where local commands run
    /// (`local.workdir`, relative to the spec file) with `DASHCTL_TEST_URL`,
    /// `DASHCTL_TEST_HEADER` (e.g. `X-Dashctl-Color: green`), `DASHCTL_SERVICE` and
    /// `DASHCTL_COLOR` added to dashctl's environment.
    pub command: Vec<String>,
    /// Longest it may run; it is then killed and the release abandoned.
    #[serde(default = "default_smoke_timeout")]
    pub timeout: SpecDuration,
}

fn default_smoke_timeout() -> SpecDuration {
    SpecDuration(Duration::from_secs(60))
}

impl Default for DeployPolicy {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            canary: Vec::new(),
            bake: SpecDuration(Duration::from_secs(300)),
            keep_previous: SpecDuration::default(),
            auto_rollback: true,
            health_timeout: SpecDuration(Duration::from_secs(300)),
            max_5xx_per_minute: 10,
            deregistration_delay: SpecDuration(Duration::from_secs(30)),
            smoke_test: None,
            judge: None,
        }
    }
}

/// Both strategies are blue/green: the new color is started and checked before it takes
/// traffic; they differ in how the traffic moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// All traffic moves at once.
    #[default]
    #[serde(alias = "blue-green")]
    AllAtOnce,
    /// Traffic moves in the weighted steps of `canary`.
    Canary,
}

impl DeployPolicy {
    /// The canary steps, or none for `all-at-once` (validation guarantees they parse).
    pub fn canary_steps(&self) -> Vec<(u8, Duration)> {
        if self.strategy != Strategy::Canary {
            return Vec::new();
        }
        parse_canary(&self.canary).unwrap_or_default()
    }
}

/// `["10%", "5m", "50%", "5m"]` as (percent, duration) pairs, percents rising within 1-99.
pub fn parse_canary(items: &[String]) -> Result<Vec<(u8, Duration)>, String> {
    if items.is_empty() || items.len() % 2 != 0 {
        return Err("expected percent/duration pairs such as [10%, 5m, 50%, 5m]".to_owned());
    }
    let mut steps = Vec::new();
    for pair in items.chunks(2) {
        let percent: u8 = pair[0]
            .trim()
            .strip_suffix('%')
            .and_then(|number| number.trim().parse().ok())
            .filter(|percent| (1..=99).contains(percent))
            .ok_or_else(|| format!("`{}` is not a percentage between 1% and 99%", pair[0]))?;
        let duration = humantime::parse_duration(pair[1].trim())
            .map_err(|error| format!("`{}` is not a duration ({error})", pair[1]))?;
        if steps
            .last()
            .is_some_and(|(previous, _)| *previous >= percent)
        {
            return Err(format!(
                "canary percentages must rise: {percent}% follows {}%",
                steps.last().map_or(0, |(previous, _)| *previous)
            ));
        }
        steps.push((percent, duration));
    }
    Ok(steps)
}

/// How the service runs on the local platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalService {
    /// Program and arguments; may use `${port}`, `${instance}`, `${color}`, `${state_dir}` and
    /// `${services.NAME.url}`.
    pub command: Vec<String>,
    /// Port of this service's proxy. Public services need one; internal ones get a free
    /// loopback port when it is left out.
    pub listen_port: Option<u16>,
    /// Environment added to `env` when running locally (same placeholders as `command`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether the proxy accepts legacy clients' unencoded request targets (raw `"`, `{`, `[`
    /// in the request line, as paintshop's `/v1/` clients send them) and passes them on
    /// percent-encoded. Off by default: the extra parsing costs every request.
    #[serde(default)]
    pub raw_request_lines: bool,
}

/// A duration written as `300s`, `5m`, `1h 30m` or `250ms` (a bare number means seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecDuration(pub Duration);

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for SpecDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a duration such as `60s` or `5m`"))?
        {
            Raw::Seconds(seconds) => Ok(Self(Duration::from_secs(seconds))),
            Raw::Text(text) => humantime::parse_duration(text.trim())
                .map(Self)
                .map_err(|error| {
                    serde::de::Error::custom(format!(
                        "invalid duration `{text}` ({error}); expected e.g. `60s`, `5m`, `250ms`"
                    ))
                }),
        }
    }
}
