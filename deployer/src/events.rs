//! What happens while a command works, as values. Platforms and operations emit events into
//! an [`Events`] sink; the command layer decides how they look (`commands/human.rs` prints the
//! lines a person reads, `commands/jsonl.rs` one JSON object per event). Every event reads back
//! from its JSON too: a running `dashctl up` streams a local rollout's events to the command
//! that asked for it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Change;
use crate::rollout::{Aborted, Color, Outcome, Reached, Rollbacks, Step};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `--break-lock` ended the rollout lock's lease before taking it: the lock is gone, or,
    /// when it carries an unfinished rollout's journal (`journal_kept`), only its lease.
    LockBroken {
        lock: String,
        #[serde(default)]
        journal_kept: bool,
    },
    /// The lock's holder stopped renewing it; this run takes it over.
    LockTakenOver {
        holder: String,
    },
    /// Someone else holds the lock now (broken by another run): this run no longer does.
    LockLost {
        lock: String,
    },
    LockRenewalFailed {
        error: String,
    },
    /// At release, the lock belonged to someone else: left alone.
    LockNotReleased {
        holder: String,
    },
    /// The run ended without releasing the lock; it lapses after its lease.
    LockLeftBehind {
        lock: String,
        #[serde(with = "seconds")]
        expires_within: Duration,
    },
    /// A deleted ECS service drains before anything of the same name (or holding its network)
    /// can go; `service` is the spec's service when a rollout waits for it.
    WaitingForDrain {
        service: Option<String>,
        ecs_service: String,
    },
    /// Alarms that keep a color from counting as healthy.
    AlarmFiring {
        service: String,
        alarms: Vec<String>,
    },
    /// A call AWS refuses for now (eventual consistency, throttling) is retried for a while.
    Retrying {
        what: String,
        code: String,
        message: String,
        #[serde(with = "seconds")]
        limit: Duration,
    },
    /// Long work on one resource started (create, update or delete).
    ResourceStarted {
        label: String,
    },
    /// It finished: `error` says why when it failed.
    ResourceFinished {
        label: String,
        #[serde(with = "seconds")]
        took: Duration,
        error: Option<String>,
    },
    /// What a deploy will change, before it changes it.
    Plan {
        changes: Vec<Change>,
    },
    /// How a changed service will go out blue/green, step by step.
    RolloutPlan {
        service: String,
        live: Color,
        steps: Vec<String>,
    },
    /// `--dry-run` stopped after the plan.
    DryRun,
    /// AWS's service-linked role for ECS or its autoscaling, made on first use in an account.
    ServiceLinkedRoleCreated {
        role: String,
    },
    /// Services created or changed in place: their tasks must pass health checks.
    WaitingForHealthyTasks,
    /// A rollout of `service` took a step.
    Rollout {
        service: String,
        step: Step,
    },
    /// A rollout or rollback finished: `to` is live.
    Live {
        outcome: Outcome,
    },
    /// A rollout stopped at `--wait-until`'s stage, journaled for `rollout resume` or `abort`.
    Paused {
        rollout: crate::rollout::JournalView,
    },
    /// `rollout abort` undid a rollout: `live` serves all traffic again, `color` is scaled down.
    Aborted {
        service: String,
        color: crate::rollout::Color,
        live: Option<crate::rollout::Color>,
    },
    /// A local deploy of every service skips one whose live color already runs the spec.
    Unchanged {
        service: String,
    },
    /// A deploy found every service running what the spec says.
    NothingToDeploy,
    /// Rolling back every service skips one with no earlier release; `message` says why.
    NothingToRollBack {
        message: String,
    },
    /// A rollback of every service found none with an earlier release.
    NothingRolledBack,
    /// A deploy finished.
    Deployed(Summary),
    /// Where a service answers.
    Endpoint {
        service: String,
        url: String,
        reach: Reach,
    },
    /// `dashctl up` found instances a previous run left (it was killed) and stops them.
    StoppingLeftovers {
        count: usize,
    },
    /// `dashctl up` runs the spec's `local.build` command.
    Building {
        command: Vec<String>,
    },
    /// A local database's server is initialised on its first run.
    InitialisingDatabase {
        database: String,
        data_dir: PathBuf,
    },
    DatabaseReady {
        database: String,
        port: u16,
        #[serde(with = "seconds")]
        took: Duration,
    },
    /// `dashctl up` serves every service and waits for Ctrl-C or `dashctl down`.
    Up(Running),
    /// `dashctl up` drains and stops every instance.
    Stopping,
    Stopped,
}

/// What a running `dashctl up` serves, and where to look.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub app: String,
    pub environment: String,
    /// Each service's proxy URL, and whether it listens on `local.public_address`.
    pub services: Vec<LocalEndpoint>,
    pub logs_dir: PathBuf,
    pub spec: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalEndpoint {
    pub service: String,
    pub url: String,
    pub public: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub app: String,
    pub environment: String,
    pub region: String,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub rolled_out: usize,
    #[serde(with = "seconds")]
    pub took: Duration,
}

/// Who can reach a service's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    Public,
    /// An internal load balancer: inside the VPC only.
    Vpc,
}

/// Where a command's events go. Cheap to clone: work that outlives a call (the lock's renewal)
/// keeps its own handle.
#[derive(Clone)]
pub struct Events(Arc<dyn Fn(Event) + Send + Sync>);

impl Events {
    pub fn new(sink: impl Fn(Event) + Send + Sync + 'static) -> Self {
        Self(Arc::new(sink))
    }

    /// Drops every event: for callers with nobody to tell.
    pub fn ignored() -> Self {
        Self::new(|_| {})
    }

    pub fn emit(&self, event: Event) {
        (self.0)(event);
    }

    /// One step of `service`'s rollout, as a rollout event.
    pub fn rollout_step(&self, service: &str, step: Step) {
        self.emit(Event::Rollout {
            service: service.to_owned(),
            step,
        });
    }

    /// The engine's `progress` for `service`: each step as a rollout event.
    pub fn rollout_steps<'a>(&'a self, service: &'a str) -> impl Fn(Step) + Send + Sync + 'a {
        move |step| self.rollout_step(service, step)
    }

    /// Where a deploy or resumed rollout got to; true when it paused.
    pub fn reached(&self, reached: Reached) -> bool {
        let paused = matches!(reached, Reached::Paused(_));
        self.emit(match reached {
            Reached::Live(outcome) => Event::Live { outcome },
            Reached::Paused(rollout) => Event::Paused { rollout },
        });
        paused
    }

    pub fn aborted(&self, aborted: Aborted) {
        self.emit(Event::Aborted {
            service: aborted.service,
            color: aborted.color,
            live: aborted.live,
        });
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Events")
    }
}

/// What rolling services back came to, as events: the skipped ones, then each one now live,
/// or that none was rolled back.
pub fn rolled_back(events: &Events, rolled: Rollbacks) {
    for message in rolled.nothing_to_roll_back {
        events.emit(Event::NothingToRollBack { message });
    }
    if rolled.outcomes.is_empty() {
        events.emit(Event::NothingRolledBack);
    }
    for outcome in rolled.outcomes {
        events.emit(Event::Live { outcome });
    }
}

/// Durations as seconds (`#[serde(with = "seconds")]`), the unit a reader of the JSON expects.
pub mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_json_object_naming_what_happened() {
        let event = Event::Rollout {
            service: "web".into(),
            step: Step::Canary {
                to: Color::Green,
                percent: 10,
                duration: Duration::from_secs(60),
            },
        };
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "event": "rollout",
                "service": "web",
                "step": {"step": "canary", "to": "green", "percent": 10, "duration": 60.0},
            })
        );
        let read: Event = serde_json::from_value(json).expect("reads back");
        assert!(
            matches!(&read, Event::Rollout { service, step: Step::Canary { duration, .. } }
                if service == "web" && *duration == Duration::from_secs(60)),
            "{read:?}"
        );
    }

    #[test]
    fn a_negative_duration_is_refused_when_read() {
        let json = serde_json::json!({"event": "rollout", "service": "web",
            "step": {"step": "bake", "color": "blue", "duration": -1.0}});
        assert!(serde_json::from_value::<Event>(json).is_err());
    }
}
