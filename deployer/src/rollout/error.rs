//! How a rollout fails: what the platform reports, and what the engine makes of it.

use std::error::Error;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

/// What every platform call returns, as `io::Result` is for I/O.
pub type PlatformResult<T = ()> = Result<T, PlatformError>;

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
    /// `reason`: what `color` did while baking (turned unhealthy, or broke a `deploy.judge`
    /// limit, said which and by how much).
    #[error("{service}: {color} {reason}; traffic is back on {live}")]
    RolledBack {
        service: String,
        color: Color,
        live: Color,
        reason: String,
    },
    /// A release failed, and moving traffic back to the color that was live failed too: where
    /// traffic goes now is not known. `reason` is why the release stopped; `error` why traffic
    /// could not go back.
    #[error(
        "{service}: rollout to {color} failed ({reason}) and traffic could not be moved back to {live}; its journal is kept: `dashctl rollout abort` tries again"
    )]
    UndoFailed {
        service: String,
        color: Color,
        live: Color,
        reason: String,
        #[source]
        error: PlatformError,
    },
    /// A rollout journaled before its release was running, resumed with a spec that now
    /// describes another release.
    #[error(
        "{service}: the rollout stopped while starting {started}, but the spec now has {}; `dashctl rollout abort` it, then deploy again",
        .spec.as_deref().unwrap_or("no release for it")
    )]
    ReleaseChanged {
        service: String,
        started: String,
        spec: Option<String>,
    },
    /// Cancelled (Ctrl-C, a client gone) before this service's rollout started.
    #[error("interrupted before deploying {service}; nothing more was changed")]
    Interrupted { service: String },
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

/// What a failed rollout left serving, which is what an operator (or a CI job) must know
/// first: the exit code follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aftermath {
    /// It failed without a release to undo: nothing was deployed, or it stopped at a step
    /// the engine does not undo (a platform call failing).
    Failed,
    /// The release was abandoned or rolled back: the live color is the one from before and
    /// serves all traffic.
    Reverted,
    /// Undoing the release failed: traffic may not be where it was. Needs attention.
    NeedsAttention,
}

impl RolloutError {
    /// The service had nothing to roll back to: not a failure when rolling back everything.
    pub fn is_nothing_to_roll_back(&self) -> bool {
        matches!(
            self,
            Self::NeverDeployed { .. } | Self::NothingToRollBack { .. }
        )
    }

    /// What this failure left serving. Every variant that promises "still serves all traffic"
    /// or "traffic is back" is [`Aftermath::Reverted`]; a platform failure is an interrupted
    /// step, not an undone release.
    pub fn aftermath(&self) -> Aftermath {
        match self {
            Self::NeverHealthy { .. } | Self::Abandoned { .. } | Self::RolledBack { .. } => {
                Aftermath::Reverted
            }
            Self::NeverDeployed { .. }
            | Self::NothingToRollBack { .. }
            | Self::ReleaseChanged { .. }
            | Self::Interrupted { .. }
            | Self::Platform { .. } => Aftermath::Failed,
            Self::UndoFailed { .. } => Aftermath::NeedsAttention,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform_failure() -> RolloutError {
        RolloutError::Platform {
            service: "portal".into(),
            error: PlatformError::Failed("UpdateService: throttled".into()),
        }
    }

    #[test]
    fn a_release_that_was_undone_left_the_live_color_serving() {
        let undone = [
            RolloutError::NeverHealthy {
                service: "portal".into(),
                color: Color::Green,
                live: "blue".into(),
                timeout: Duration::from_secs(8),
            },
            RolloutError::Abandoned {
                service: "portal".into(),
                color: Color::Green,
                live: "blue".into(),
                reason: "canary at 10%: interrupted".into(),
            },
            RolloutError::RolledBack {
                service: "portal".into(),
                color: Color::Green,
                live: Color::Blue,
                reason: "turned unhealthy while baking".into(),
            },
        ];
        for error in undone {
            assert_eq!(error.aftermath(), Aftermath::Reverted, "{error}");
        }
    }

    #[test]
    fn nothing_to_roll_back_and_platform_failures_are_plain_failures() {
        let failed = [
            RolloutError::NeverDeployed {
                service: "portal".into(),
            },
            RolloutError::NothingToRollBack {
                service: "portal".into(),
                color: Color::Blue,
            },
            platform_failure(),
        ];
        for error in failed {
            assert_eq!(error.aftermath(), Aftermath::Failed, "{error}");
        }
    }

    #[test]
    fn traffic_that_could_not_be_moved_back_needs_attention() {
        let error = RolloutError::UndoFailed {
            service: "portal".into(),
            color: Color::Green,
            live: Color::Blue,
            reason: "it turned unhealthy".into(),
            error: PlatformError::Failed("ModifyListener: throttled".into()),
        };
        assert_eq!(error.aftermath(), Aftermath::NeedsAttention);
        assert!(
            error
                .to_string()
                .contains("traffic could not be moved back to blue"),
            "{error}"
        );
        assert_eq!(
            std::error::Error::source(&error).map(ToString::to_string),
            Some("ModifyListener: throttled".to_owned()),
            "why it could not go back stays the source"
        );
    }

    #[test]
    fn the_aftermath_reads_as_one_word_in_json() {
        assert_eq!(
            serde_json::to_value(platform_failure().aftermath()).expect("json"),
            serde_json::json!("failed")
        );
        assert_eq!(
            serde_json::to_value(Aftermath::NeedsAttention).expect("json"),
            serde_json::json!("needs_attention")
        );
    }
}
