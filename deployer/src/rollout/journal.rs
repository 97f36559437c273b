//! How far a rollout got, written where it outlives the dashctl that runs it: in the rollout
//! lock on AWS, in `dashctl up` locally. `dashctl rollout resume` continues from it, and
//! `dashctl rollout abort` undoes it, whether the rollout stopped on purpose (`--wait-until`)
//! or its dashctl died (a second Ctrl-C, SIGKILL, a lost CI runner).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Color, Traffic};

/// A stage a rollout has reached. Each is written before the work that follows it, so a
/// rollout resumed from a stage redoes at most that work, which is safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// The new color is being given its release (it may or may not run it yet).
    Starting,
    /// The new color runs the release and is not yet known to be healthy.
    Started,
    /// It is healthy; its test route and smoke test are being run.
    Checking,
    /// Healthy and checked through its test route: ready for traffic.
    Healthy,
    /// Canary step `step` (from 0): `percent` of traffic to the new color, watched for the
    /// step's time (a resumed rollout sets the weights again and watches it whole).
    Canary { step: usize, percent: u8 },
    /// The test route is being closed and all traffic moved to the new color (a resumed
    /// rollout does it again; an abort puts traffic back wherever it got to).
    Switching,
    /// All traffic is on the new color and autoscaling follows it; the old color is still up.
    Switched,
    /// The new color stayed healthy through the bake; the old color is not yet retired.
    Baked,
}

impl Stage {
    /// Whether the new color has taken all traffic: undoing the rollout from here is a switch
    /// back to the old color rather than an abandon.
    pub fn switched(self) -> bool {
        matches!(self, Self::Switched | Self::Baked)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Starting => f.write_str("starting"),
            Self::Started => f.write_str("started"),
            Self::Checking => f.write_str("checking"),
            Self::Healthy => f.write_str("healthy"),
            Self::Canary { percent, .. } => write!(f, "canary {percent}%"),
            Self::Switching => f.write_str("switching"),
            Self::Switched => f.write_str("switched"),
            Self::Baked => f.write_str("baked"),
        }
    }
}

/// Where `deploy --wait-until` (and `rollout resume --wait-until`) stops a rollout, leaving
/// it in the journal for `rollout resume` or `rollout abort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WaitUntil {
    /// The new color is healthy and its test route open (and its smoke test passed); no
    /// production traffic reaches it yet.
    Healthy,
    /// All traffic is on the new color; the old one is still up, so an abort is one switch.
    Switched,
    /// The new color passed its bake; the old one is still up until the rollout is resumed.
    Baked,
}

impl WaitUntil {
    pub fn stage(self) -> Stage {
        match self {
            Self::Healthy => Stage::Healthy,
            Self::Switched => Stage::Switched,
            Self::Baked => Stage::Baked,
        }
    }
}

/// One service's rollout in progress. `K` is what the new color ran before it, as the
/// platform gives it back when the rollout is undone (a task definition on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal<K> {
    pub service: String,
    /// The color being released to.
    pub target: Color,
    /// The color serving before the rollout (None on a first deploy).
    pub live: Option<Color>,
    pub stage: Stage,
    /// What is being released, in words (an image, a command), so that a rollout resumed
    /// before its release was running starts the same one.
    pub release: String,
    /// What `target` ran before, once read (None until the rollout has read it).
    pub kept: Option<K>,
    /// Stopped here on purpose (`--wait-until`), rather than still running or died.
    #[serde(default)]
    pub paused: bool,
}

impl<K> Journal<K> {
    /// The split this stage sets on the router: a canary step's share, or the switch. A
    /// process killed after the router took it, before anything recorded it, leaves it there.
    pub fn traffic_being_set(&self) -> Option<Traffic> {
        match self.stage {
            Stage::Canary { percent, .. } => Some(Traffic::to(self.target, percent)),
            Stage::Switching => Some(Traffic::to(self.target, 100)),
            _ => None,
        }
    }
}

/// The journal as status reports show it: everything but the platform's memo of the old
/// release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalView {
    pub service: String,
    pub target: Color,
    pub live: Option<Color>,
    #[serde(flatten)]
    pub stage: Stage,
    pub release: String,
    pub paused: bool,
}

impl<K> From<&Journal<K>> for JournalView {
    fn from(journal: &Journal<K>) -> Self {
        Self {
            service: journal.service.clone(),
            target: journal.target,
            live: journal.live,
            stage: journal.stage,
            release: journal.release.clone(),
            paused: journal.paused,
        }
    }
}

impl JournalView {
    /// `portal: blue -> green (image), at canary 10%`.
    pub fn describe(&self) -> String {
        let from = self
            .live
            .map_or_else(|| "nothing".to_owned(), |c| c.to_string());
        format!(
            "{}: {from} -> {} ({}), at {}",
            self.service, self.target, self.release, self.stage
        )
    }

    /// What the operator can do about it, in one sentence.
    pub fn what_next(&self) -> String {
        let live = self
            .live
            .map_or_else(|| "nothing".to_owned(), |c| c.to_string());
        let where_traffic = match self.stage {
            Stage::Canary { percent, .. } => {
                format!("{percent}% of traffic reaches {}", self.target)
            }
            stage if stage.switched() => {
                format!("{} serves all traffic, {live} is still up", self.target)
            }
            _ => format!("{live} serves all traffic"),
        };
        format!(
            "{}: rollout {live} -> {} {} at {}; {where_traffic}. `dashctl rollout resume` continues it, `dashctl rollout abort` puts traffic back on {live}",
            self.service,
            self.target,
            if self.paused { "paused" } else { "stopped" },
            self.stage,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stage: Stage) -> Journal<()> {
        Journal {
            service: "portal".into(),
            target: Color::Green,
            live: Some(Color::Blue),
            stage,
            release: "v2".into(),
            kept: None,
            paused: false,
        }
    }

    #[test]
    fn only_a_canary_step_and_the_switch_set_traffic() {
        assert_eq!(
            at(Stage::Canary {
                step: 1,
                percent: 50
            })
            .traffic_being_set(),
            Some(Traffic::to(Color::Green, 50))
        );
        assert_eq!(
            at(Stage::Switching).traffic_being_set(),
            Some(Traffic::to(Color::Green, 100))
        );
        for quiet in [
            Stage::Starting,
            Stage::Started,
            Stage::Checking,
            Stage::Healthy,
            Stage::Switched,
            Stage::Baked,
        ] {
            assert_eq!(at(quiet).traffic_being_set(), None, "{quiet}");
        }
    }
}
