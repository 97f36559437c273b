//! The AWS resources dashctl manages, in one shape for what the spec wants and what exists, so
//! a plan is a plain comparison. Attributes are canonical strings; references between
//! resources are by dashctl name, never by AWS id, so both sides compare equal.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Resource kinds in dependency order: creation walks this order, deletion walks it backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Vpc,
    InternetGateway,
    Subnet,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    DbSubnetGroup,
    Database,
    LoadBalancer,
    TargetGroup,
    Listener,
    Alarm,
    LogGroup,
    Role,
    Cluster,
    TaskDefinition,
    EcsService,
    ScalableTarget,
    ScalingPolicy,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
        Kind::Vpc,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::SecurityGroup,
        Kind::DbSubnetGroup,
        Kind::Database,
        Kind::LoadBalancer,
        Kind::TargetGroup,
        Kind::Listener,
        Kind::Alarm,
        Kind::LogGroup,
        Kind::Role,
        Kind::Cluster,
        Kind::TaskDefinition,
        Kind::EcsService,
        Kind::ScalableTarget,
        Kind::ScalingPolicy,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Vpc => "VPC",
            Kind::InternetGateway => "internet gateway",
            Kind::Subnet => "subnet",
            Kind::ElasticIp => "elastic IP",
            Kind::NatGateway => "NAT gateway",
            Kind::RouteTable => "route table",
            Kind::SecurityGroup => "security group",
            Kind::DbSubnetGroup => "DB subnet group",
            Kind::Database => "database",
            Kind::LoadBalancer => "load balancer",
            Kind::TargetGroup => "target group",
            Kind::Listener => "listener",
            Kind::Alarm => "alarm",
            Kind::LogGroup => "log group",
            Kind::Role => "IAM role",
            Kind::Cluster => "ECS cluster",
            Kind::TaskDefinition => "task definition",
            Kind::EcsService => "ECS service",
            Kind::ScalableTarget => "scalable target",
            Kind::ScalingPolicy => "scaling policy",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    /// dashctl's name for it (the `Name` tag, the AWS name, or `lb:port` for listeners).
    pub name: String,
    /// The dashctl service it belongs to, if any (for the `dashctl:service` tag).
    pub service: Option<String>,
    pub attrs: BTreeMap<&'static str, String>,
}

impl Resource {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            service: None,
            attrs: BTreeMap::new(),
        }
    }

    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    pub fn attr(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attrs.insert(key, value.into());
        self
    }

    pub fn get(&self, key: &str) -> &str {
        self.attrs.get(key).map_or("", String::as_str)
    }

    pub fn key(&self) -> (Kind, String) {
        (self.kind, self.name.clone())
    }
}

/// The resource of `kind` named `name` among `resources`, if there is one.
pub fn find<'a>(resources: &'a [Resource], kind: Kind, name: &str) -> Option<&'a Resource> {
    resources
        .iter()
        .find(|resource| resource.kind == kind && resource.name == name)
}

/// Where things are, by (kind, name): AWS ids and ARNs, plus what AWS assigns that tasks are
/// configured with: load balancer DNS names and database endpoints.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub ids: BTreeMap<(Kind, String), String>,
    pub dns: BTreeMap<String, String>,
    /// By database resource name.
    pub databases: BTreeMap<String, DatabaseAddress>,
}

/// How tasks reach a database, once RDS has made it available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseAddress {
    pub host: String,
    pub port: u16,
    /// The Secrets Manager secret RDS keeps the master user's credentials in (JSON with
    /// `username` and `password`).
    pub secret_arn: String,
}

impl Ids {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&str> {
        self.ids.get(&(kind, name.to_owned())).map(String::as_str)
    }

    /// The id of something an earlier step made; an error names what is missing.
    pub fn require(&self, kind: Kind, name: &str) -> anyhow::Result<&str> {
        self.get(kind, name)
            .ok_or_else(|| anyhow::anyhow!("{kind} {name} does not exist (yet)"))
    }

    pub fn insert(&mut self, kind: Kind, name: &str, id: impl Into<String>) {
        self.ids.insert((kind, name.to_owned()), id.into());
    }

    /// The dashctl name of what `id` refers to; empty when there is no id or it is not ours.
    pub fn named(&self, kind: Kind, id: Option<&str>) -> String {
        id.and_then(|id| self.name_of(kind, id)).unwrap_or_default()
    }

    /// The dashctl name of the resource with this AWS id.
    pub fn name_of(&self, kind: Kind, id: &str) -> Option<String> {
        self.ids
            .iter()
            .find(|((k, _), v)| *k == kind && v.as_str() == id)
            .map(|((_, name), _)| name.clone())
    }
}

/// What exists, as found by tags.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    pub ids: Ids,
}
