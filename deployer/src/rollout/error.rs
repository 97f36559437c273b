//! How a rollout fails: what the platform reports, and what the engine makes of it.

use std::error::Error;
use std::time::Duration;

use super::Color;

/// A platform could not do what the engine asked. Its `Display` is this failure's own message;
/// the error underneath, when there is one, stays reachable as its `source`, so `{:#}` shows
/// the whole chain once.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The platform says what went wrong in its own words (a service it does not run, a
    /// process that would not start, a circuit breaker that tripped).
    #[error("{0}")]
    Failed(String),
    /// A call the platform made failed (an AWS API call, say), with its chain of causes.
    #[error(transparent)]
    Call(#[from] anyhow::Error),
}

/// `error` and every cause under it, `: `-separated (what anyhow's `{:#}` prints), for the
/// places where a failure becomes part of a longer sentence.
pub fn with_causes(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{service}: {color} did not become healthy within {}; {live} still serves all traffic", humantime::format_duration(*timeout))]
    NeverHealthy {
        service: String,
        color: Color,
        live: String,
        timeout: Duration,
    },
    /// `reason` sums up why it stopped and anything that went wrong undoing it, in one sentence
    /// that says what still serves traffic.
    #[error("{service}: rollout to {color} abandoned ({reason}); {live} still serves all traffic")]
    Abandoned {
        service: String,
        color: Color,
        live: String,
        reason: String,
    },
    #[error("{service}: {color} turned unhealthy while baking; traffic is back on {live}")]
    RolledBack {
        service: String,
        color: Color,
        live: Color,
    },
    #[error("{service}: nothing to roll back to (it has never been deployed)")]
    NeverDeployed { service: String },
    #[error("{service}: nothing to roll back to ({color} has no earlier release)")]
    NothingToRollBack { service: String, color: Color },
    /// Only the service is this error's own message; the platform's failure is its source, so
    /// reported with its chain (`{:#}`) each part appears once.
    #[error("{service}")]
    Platform {
        service: String,
        #[source]
        error: PlatformError,
    },
}

impl RolloutError {
    /// The service had nothing to roll back to: not a failure when rolling back everything.
    pub fn is_nothing_to_roll_back(&self) -> bool {
        matches!(
            self,
            Self::NeverDeployed { .. } | Self::NothingToRollBack { .. }
        )
    }
}
