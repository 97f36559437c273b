//! Every name dashctl gives an AWS resource, in one place. Validation guarantees the longest,
//! `{app}-{env}-{service}-green`, fits the 32 characters ALB and target group names allow.

use crate::rollout::Color;
use crate::spec::Spec;

#[derive(Clone, Copy)]
pub struct Names<'a> {
    pub app: &'a str,
    pub environment: &'a str,
}

impl<'a> Names<'a> {
    pub fn new(spec: &'a Spec) -> Self {
        Self {
            app: &spec.app,
            environment: &spec.environment,
        }
    }

    pub fn base(&self) -> String {
        format!("{}-{}", self.app, self.environment)
    }

    pub fn subnet(&self, tier: &str, az_index: usize) -> String {
        format!("{}-{tier}-{}", self.base(), az_letter(az_index))
    }

    pub fn nat(&self, az_index: usize) -> String {
        format!("{}-nat-{}", self.base(), az_letter(az_index))
    }

    pub fn public_route_table(&self) -> String {
        format!("{}-public", self.base())
    }

    pub fn private_route_table(&self, az_index: usize) -> String {
        format!("{}-private-{}", self.base(), az_letter(az_index))
    }

    pub fn load_balancer(&self, public: bool) -> String {
        format!(
            "{}-{}",
            self.base(),
            if public { "public" } else { "internal" }
        )
    }

    pub fn load_balancer_group(&self, public: bool) -> String {
        format!("{}-alb", self.load_balancer(public))
    }

    pub fn tasks_group(&self, service: &str) -> String {
        format!("{}-{service}-tasks", self.base())
    }

    /// A database's RDS identifier, and the name of its DB subnet group.
    pub fn database(&self, database: &str) -> String {
        format!("{}-{database}", self.base())
    }

    /// The security group of a database: port 5432 from the tasks of the services using it.
    pub fn database_group(&self, database: &str) -> String {
        format!("{}-{database}-db", self.base())
    }

    pub fn colored(&self, service: &str, color: Color) -> String {
        format!("{}-{service}-{color}", self.base())
    }

    pub fn family(&self, service: &str) -> String {
        format!("{}-{service}", self.base())
    }

    pub fn log_group(&self, service: &str) -> String {
        format!("/dashctl/{}/{}/{service}", self.app, self.environment)
    }

    pub fn log_group_prefix(&self) -> String {
        format!("/dashctl/{}/{}/", self.app, self.environment)
    }

    pub fn execution_role(&self) -> String {
        format!("{}-execution", self.base())
    }

    pub fn task_role(&self, service: &str) -> String {
        format!("{}-{service}-task", self.base())
    }

    /// IAM path: lets discovery list exactly this app's roles.
    pub fn role_path(&self) -> String {
        format!("/dashctl/{}/{}/", self.app, self.environment)
    }

    /// `kind` is `5xx` or `unhealthy`.
    pub fn alarm(&self, service: &str, color: Color, kind: &str) -> String {
        format!("{}-{kind}", self.colored(service, color))
    }

    pub fn alarm_prefix(&self) -> String {
        format!("{}-", self.base())
    }

    pub fn scaling_policy(&self, service: &str) -> String {
        format!("{}-{service}-requests", self.base())
    }

    pub fn scalable_resource(&self, ecs_service: &str) -> String {
        format!("service/{}/{ecs_service}", self.base())
    }
}

impl Names<'_> {
    /// Whether a resource's tags, looked up by key through `tag`, say it is this app's in this
    /// environment: how discovery tells ours from everything else, for every service's tag type.
    pub fn own<'t>(&self, tag: impl Fn(&str) -> Option<&'t str>) -> bool {
        tag(TAG_APP) == Some(self.app) && tag(TAG_ENVIRONMENT) == Some(self.environment)
    }
}

fn az_letter(index: usize) -> char {
    char::from(b'a' + (index % 26) as u8)
}

pub const TAG_APP: &str = "dashctl:app";
pub const TAG_ENVIRONMENT: &str = "dashctl:environment";
pub const TAG_SERVICE: &str = "dashctl:service";
pub const TAG_COLOR: &str = "dashctl:color";
pub const TAG_TIER: &str = "dashctl:tier";
