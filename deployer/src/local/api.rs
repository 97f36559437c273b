//! The control API's messages, shared by the `up` process and the commands that talk to it.

use serde::{Deserialize, Serialize};

use super::service::ServiceStatus;
use crate::rollout::Outcome;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    pub app: String,
    pub environment: String,
    pub platform: String,
    pub pid: u32,
    pub services: Vec<ServiceStatus>,
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
