//! The control API's messages, shared by the `up` process and the commands that talk to it.

use serde::{Deserialize, Serialize};

use super::service::ServiceStatus;
use crate::rollout::Outcome;
use crate::table;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    pub app: String,
    pub environment: String,
    pub platform: String,
    pub pid: u32,
    pub services: Vec<ServiceStatus>,
    /// The PostgreSQL servers `up` runs for the spec's databases.
    #[serde(default)]
    pub databases: Vec<super::database::DatabaseStatus>,
}

impl StatusReport {
    /// The `dashctl status` table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} ({}) on {}, dashctl up pid {}\n\n",
            self.app, self.environment, self.platform, self.pid
        );
        out.push_str(&table::plain(
            [
                "SERVICE",
                "URL",
                "LIVE",
                "READY",
                "REQ/MIN",
                "SCALING (min-max @ req/min/target)",
            ],
            self.services.iter().map(|service| {
                [
                    table::service_name(&service.name, service.public),
                    service.url.clone(),
                    match (service.live_color, service.canary, service.kept_warm) {
                        (Some(live), Some((canary, percent)), _) => {
                            format!("{live} ({canary} {percent}%)")
                        }
                        (Some(live), None, Some((warm, left))) => format!(
                            "{live} ({warm} warm, {} left)",
                            humantime::format_duration(std::time::Duration::from_secs(left))
                        ),
                        (Some(live), None, None) => live.to_string(),
                        (None, _, _) => "-".to_owned(),
                    },
                    format!("{}/{}", service.ready, service.desired),
                    service.requests_per_minute.to_string(),
                    format!(
                        "{}-{} @ {}",
                        service.scaling.min,
                        service.scaling.max,
                        service.scaling.requests_per_target
                    ),
                ]
            }),
        ));
        out.push_str("\n\n");
        out.push_str(&table::plain(
            ["INSTANCE", "PID", "PORT", "STATE", "RESTARTS", "REQUESTS"],
            self.services
                .iter()
                .flat_map(|service| &service.instances)
                .map(|instance| {
                    let state = if instance.draining {
                        "draining"
                    } else if instance.ready {
                        "ready"
                    } else if instance.pid.is_some() {
                        "starting"
                    } else {
                        "restarting"
                    };
                    [
                        instance.id.clone(),
                        instance
                            .pid
                            .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
                        instance.port.to_string(),
                        state.to_owned(),
                        instance.restarts.to_string(),
                        instance.requests.to_string(),
                    ]
                }),
        ));
        out.push('\n');
        if !self.databases.is_empty() {
            out.push('\n');
            out.push_str(&table::plain(
                ["DATABASE", "URL", "PASSWORD FILE", "PID", "RESTARTS"],
                self.databases.iter().map(|database| {
                    [
                        database.name.clone(),
                        database.url.clone(),
                        database.password_file.display().to_string(),
                        database
                            .pid
                            .map_or_else(|| "restarting".to_owned(), |pid| pid.to_string()),
                        database.restarts.to_string(),
                    ]
                }),
            ));
            out.push('\n');
        }
        out
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeployRequest {
    /// One service, or every service when absent.
    pub service: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub service: String,
}

/// What a deploy or rollback did: the steps taken, and the outcome or the error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActionReport {
    pub steps: Vec<String>,
    pub outcomes: Vec<OutcomeLine>,
    pub error: Option<String>,
    /// A rollback that found nothing to roll back to, and why: not an error when rolling back
    /// every service.
    #[serde(default)]
    pub nothing_to_roll_back: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeLine {
    pub service: String,
    pub from: Option<String>,
    pub to: String,
}

impl From<Outcome> for OutcomeLine {
    fn from(outcome: Outcome) -> Self {
        Self {
            service: outcome.service,
            from: outcome.from.map(|color| color.to_string()),
            to: outcome.to.to_string(),
        }
    }
}
