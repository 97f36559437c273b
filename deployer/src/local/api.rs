//! The control API's messages, shared by the `up` process and the commands that talk to it.

use serde::{Deserialize, Serialize};

use super::service::ServiceStatus;
use crate::events::Event;
use crate::rollout::Aftermath;
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
    /// Rollouts running or paused (`--wait-until`), from their journals.
    #[serde(default)]
    pub rollouts: Vec<crate::rollout::JournalView>,
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
        for rollout in &self.rollouts {
            out.push('\n');
            if rollout.paused {
                out.push_str(&rollout.what_next());
            } else {
                out.push_str(&format!("rollout in progress: {}", rollout.describe()));
            }
            out.push('\n');
        }
        out
    }
}

/// What a client asks `dashctl up` to do to its rollouts, in one `POST /rollout`: answered as
/// NDJSON, each event as it happens and the report last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RolloutRequest {
    /// Deploy one service, or every service when `service` is absent; stop the rollout at
    /// `wait_until` (one service's rollout only).
    Deploy {
        service: Option<String>,
        #[serde(default)]
        wait_until: Option<crate::rollout::WaitUntil>,
    },
    /// Roll back one after another; with several, one that has nothing to roll back to is
    /// skipped.
    Rollback { services: Vec<String> },
    /// Continue the journaled rollout, stopping again at `wait_until`.
    Resume {
        #[serde(default)]
        wait_until: Option<crate::rollout::WaitUntil>,
    },
    /// Undo the journaled rollout.
    Abort,
}

/// One line of the answer to a deploy or rollback (the answer is NDJSON): each event as it
/// happens, then what it came to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutLine {
    Event(Event),
    Done(ActionReport),
}

/// What a deploy or rollback came to; its steps and outcomes went out as events before it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActionReport {
    pub error: Option<ActionError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionError {
    /// The request, or the spec as it reads now, cannot be acted on; nothing was touched.
    Invalid { message: String },
    /// The work failed; `aftermath` says what it left serving.
    Failed {
        message: String,
        aftermath: Aftermath,
    },
}

#[cfg(test)]
mod tests {
    use super::RolloutRequest;
    use crate::rollout::WaitUntil;

    fn parse(text: &str) -> Result<RolloutRequest, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn a_rollout_request_names_its_action_and_only_what_that_action_takes() {
        assert!(matches!(
            parse(r#"{"action": "deploy", "service": "portal"}"#),
            Ok(RolloutRequest::Deploy { service: Some(name), wait_until: None }) if name == "portal"
        ));
        assert!(matches!(
            parse(r#"{"action": "resume", "wait_until": "switched"}"#),
            Ok(RolloutRequest::Resume {
                wait_until: Some(WaitUntil::Switched)
            })
        ));
        assert!(matches!(
            parse(r#"{"action": "abort"}"#),
            Ok(RolloutRequest::Abort)
        ));
        let round_trip = serde_json::to_string(&RolloutRequest::Rollback {
            services: vec!["portal".into()],
        })
        .expect("serialise");
        assert!(matches!(
            parse(&round_trip),
            Ok(RolloutRequest::Rollback { services }) if services == ["portal"]
        ));
    }

    #[test]
    fn an_unknown_or_missing_action_is_refused() {
        let unknown = parse(r#"{"action": "launch"}"#).expect_err("unknown action");
        assert!(unknown.to_string().contains("launch"), "{unknown}");
        assert!(parse(r#"{"service": "portal"}"#).is_err());
        assert!(
            parse(r#"{"action": "rollback"}"#).is_err(),
            "services is required"
        );
    }
}
