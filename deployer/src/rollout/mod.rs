//! Blue/green rollouts, written once against [`Platform`] so the local platform and AWS share
//! the same state machine. The invariant: until traffic is switched, the live color is never
//! touched; any failure before the switch leaves production exactly as it was.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::spec::Spec;

mod error;
pub mod journal;
mod judge;
mod smoke;

pub use error::{Aftermath, PlatformError, PlatformResult, RolloutError, with_causes};
pub use journal::{Journal, JournalView, Stage, WaitUntil};
pub use judge::{Metric, Readings, Thresholds, Verdict};
pub use smoke::SmokeTest;

/// The header that reaches the color being checked through its test route, whose value names
/// the color (`X-Dashctl-Color: green`).
pub const TEST_HEADER: &str = "X-Dashctl-Color";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn other(self) -> Self {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a service's traffic is split between its colors, in percent of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub blue: u8,
    pub green: u8,
}

impl Traffic {
    /// `percent` to `to`, the rest to the other color: what `shift_traffic` asks for.
    pub fn to(to: Color, percent: u8) -> Self {
        let percent = percent.min(100);
        match to {
            Color::Blue => Self {
                blue: percent,
                green: 100 - percent,
            },
            Color::Green => Self {
                blue: 100 - percent,
                green: percent,
            },
        }
    }

    /// Relative weights as a platform stores them (an ALB accepts 0-999 per target group),
    /// in percent; None when neither color gets anything.
    pub fn from_weights(blue: u32, green: u32) -> Option<Self> {
        let total = u64::from(blue) + u64::from(green);
        if total == 0 {
            return None;
        }
        let blue = ((u64::from(blue) * 100 + total / 2) / total) as u8;
        Some(Self {
            blue,
            green: 100 - blue,
        })
    }

    pub fn of(self, color: Color) -> u8 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blue {}% / green {}%", self.blue, self.green)
    }
}

/// What a platform must do for a rollout. Every method is about one service and one color.
#[trait_variant::make(Send)]
pub trait Platform: Sync {
    /// What a color runs: a container image on AWS, a command and env locally.
    type Release: Send + Sync;

    /// What a color ran before a rollout gave it a new release, as `revert_release` gives it
    /// back; journaled, so that a rollout resumed or aborted by another dashctl can.
    type Kept: Serialize + serde::de::DeserializeOwned + Clone + fmt::Debug + Send + Sync;

    /// `release` in words, the same for the same release (an image, a command line).
    fn describe_release(&self, release: &Self::Release) -> String;

    /// What `color` runs now (or that it runs nothing), for a later `revert_release`.
    async fn current_release(&self, service: &str, color: Color) -> PlatformResult<Self::Kept>;

    /// The color receiving traffic, or None before the first deploy.
    async fn live_color(&self, service: &str) -> PlatformResult<Option<Color>>;

    /// Runs `release` on `color` at the live color's capacity (at least the scaling minimum).
    async fn start_release(
        &self,
        service: &str,
        color: Color,
        release: &Self::Release,
    ) -> PlatformResult;

    /// Whether `color` has a release to bring back (it ran before and was kept).
    async fn has_release(&self, service: &str, color: Color) -> PlatformResult<bool>;

    /// Brings `color` back up with the release it last ran (for rollback).
    async fn restore(&self, service: &str, color: Color) -> PlatformResult;

    /// Gives `color` back `kept` (what `current_release` read before its `start_release`),
    /// after a release that never went live for good: a later rollback must find the last
    /// good release there.
    async fn revert_release(
        &self,
        service: &str,
        color: Color,
        kept: &Self::Kept,
    ) -> PlatformResult;

    /// Whether every instance of `color` passes its health check right now.
    async fn is_healthy(&self, service: &str, color: Color) -> PlatformResult<bool>;

    /// Sends `percent` of the service's traffic to `to` and the rest to the other color
    /// (100: all of it, and `to` becomes the live color).
    async fn shift_traffic(&self, service: &str, to: Color, percent: u8) -> PlatformResult;

    /// How the service's traffic is split right now, as the router itself reports it (the
    /// listener read back on AWS); None before the first deploy.
    async fn traffic(&self, service: &str) -> PlatformResult<Option<Traffic>>;

    /// Points request-count autoscaling at `color`.
    async fn retarget_scaling(&self, service: &str, to: Color) -> PlatformResult;

    /// Leaves `color` running at its size for `window`, so that rolling back to it is only a
    /// traffic change; when the window ends it drains and scales to zero by itself, whether or
    /// not dashctl is still running. `start_release`, `restore` and `retire` of the color end
    /// the window early.
    async fn keep_warm(&self, service: &str, color: Color, window: Duration) -> PlatformResult;

    /// Drains `color` and scales it to zero; it keeps its release for a later rollback.
    async fn retire(&self, service: &str, color: Color) -> PlatformResult;

    /// Opens the service's test route: requests carrying [`TEST_HEADER`] with `color` as its
    /// value reach `color`, whatever the weights say; any test route left from an earlier
    /// rollout is replaced. Returns the URL the service is reached at.
    async fn open_test_route(&self, service: &str, color: Color) -> PlatformResult<String>;

    /// Removes the service's test route, if it has one.
    async fn close_test_route(&self, service: &str) -> PlatformResult;

    /// Writes how far the service's rollout got, where it outlives this process.
    async fn save_journal(&self, journal: &Journal<Self::Kept>) -> PlatformResult;

    /// Removes the service's journal: its rollout is over, one way or the other.
    async fn clear_journal(&self, service: &str) -> PlatformResult;

    /// What the load balancer measured for `color` since `since`: requests, 5xx answers and
    /// p99 latency. None when it has nothing for that window (yet).
    async fn readings(
        &self,
        service: &str,
        color: Color,
        since: SystemTime,
    ) -> PlatformResult<Option<Readings>>;
}

/// How long the router may take to report weights it accepted (an ALB applies a listener
/// change within seconds).
pub const TRAFFIC_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct RolloutOptions {
    /// Longest wait for the new color to become healthy.
    pub health_timeout: Duration,
    /// Canary steps before the full switch: (percent of traffic to the new color, how long
    /// it must stay healthy at that weight). Empty: all at once.
    pub canary: Vec<(u8, Duration)>,
    /// How long the new color must stay healthy while live before the old one is retired.
    pub bake: Duration,
    pub auto_rollback: bool,
    /// How long the previous color stays up after a release (zero: retired at once).
    pub keep_previous: Duration,
    /// Longest wait for the router to report the weights just set.
    pub traffic_timeout: Duration,
    /// How often health is polled while waiting and baking.
    pub poll_interval: Duration,
    /// Cancelling (Ctrl-C) before the full switch abandons the rollout; the live color stays.
    pub cancel: CancellationToken,
    /// Run against the new color through its test route before any traffic moves.
    pub smoke_test: Option<SmokeTest>,
    /// Stop at this stage, journaled for `rollout resume` or `rollout abort`.
    pub wait_until: Option<WaitUntil>,
    /// Limits on the new color's metrics during canary steps and the bake (None: not judged).
    pub judge: Option<Thresholds>,
}

impl RolloutOptions {
    /// `service`'s `deploy:` section (the defaults for a service the spec does not have),
    /// polled every second; platforms adjust the poll interval to their speed.
    pub fn for_service(spec: &Spec, service: &str, cancel: CancellationToken) -> Self {
        let deploy = spec
            .services
            .get(service)
            .map(|definition| definition.deploy.clone())
            .unwrap_or_default();
        Self {
            health_timeout: deploy.health_timeout.0,
            canary: deploy.canary_steps(),
            bake: deploy.bake.0,
            auto_rollback: deploy.auto_rollback,
            keep_previous: deploy.keep_previous.0,
            traffic_timeout: TRAFFIC_TIMEOUT,
            poll_interval: Duration::from_secs(1),
            cancel,
            smoke_test: deploy.smoke_test.map(|smoke| SmokeTest {
                command: smoke.command,
                timeout: smoke.timeout.0,
                workdir: spec.workdir(),
            }),
            wait_until: None,
            judge: deploy.judge.map(|judge| Thresholds {
                max_5xx_rate: judge.max_5xx_rate.map(|max| max.0),
                max_5xx_increase: judge.max_5xx_increase.map(|max| max.0),
                max_p99: judge.max_p99.map(|max| max.0),
                max_p99_increase: judge.max_p99_increase.map(|max| max.0),
                min_requests: judge.min_requests,
            }),
        }
    }
}

/// What rolling several services back came to.
#[derive(Debug, Default)]
pub struct Rollbacks {
    pub outcomes: Vec<Outcome>,
    /// Why each skipped service had nothing to roll back to.
    pub nothing_to_roll_back: Vec<String>,
}

/// A step of a rollout, reported as it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Start {
        color: Color,
    },
    WaitHealthy {
        color: Color,
    },
    /// The test route is open: requests to `url` with the test header reach `color`.
    TestRoute {
        color: Color,
        url: String,
    },
    SmokeTest {
        color: Color,
    },
    Canary {
        to: Color,
        percent: u8,
        #[serde(with = "crate::events::seconds")]
        duration: Duration,
    },
    Switch {
        to: Color,
    },
    Bake {
        color: Color,
        #[serde(with = "crate::events::seconds")]
        duration: Duration,
    },
    /// The router reports the weights just set.
    TrafficConfirmed {
        traffic: Traffic,
    },
    /// The previous color stays up for this long so a rollback is instant.
    KeepWarm {
        color: Color,
        #[serde(with = "crate::events::seconds")]
        duration: Duration,
    },
    Retire {
        color: Color,
    },
    /// The new color's metrics judged against `deploy.judge` (and against the live color's).
    Judged {
        color: Color,
        readings: Option<Readings>,
        live: Option<Color>,
        live_readings: Option<Readings>,
        verdict: Verdict,
    },
    Abandon {
        color: Color,
    },
    RollBack {
        to: Color,
    },
    /// A journaled rollout goes on from `stage`.
    Resume {
        #[serde(flatten)]
        stage: Stage,
    },
    /// Stopped at `stage` as asked (`--wait-until`); journaled for `rollout resume` or
    /// `rollout abort`.
    Paused {
        #[serde(flatten)]
        stage: Stage,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start { color } => write!(f, "starting {color}"),
            Self::WaitHealthy { color } => write!(f, "waiting for {color} to be healthy"),
            Self::TestRoute { color, url } => write!(
                f,
                "test route open: {url} with `{TEST_HEADER}: {color}` reaches {color}"
            ),
            Self::SmokeTest { color } => write!(f, "running the smoke test against {color}"),
            Self::Canary {
                to,
                percent,
                duration,
            } => write!(
                f,
                "sending {percent}% of traffic to {to} for {}",
                humantime::format_duration(*duration)
            ),
            Self::Switch { to } => write!(f, "switching traffic to {to}"),
            Self::Bake { color, duration } => write!(
                f,
                "baking {color} for {}",
                humantime::format_duration(*duration)
            ),
            Self::TrafficConfirmed { traffic } => write!(f, "traffic confirmed: {traffic}"),
            Self::KeepWarm { color, duration } => write!(
                f,
                "keeping {color} up for {} (rolling back until then only moves traffic)",
                humantime::format_duration(*duration)
            ),
            Self::Retire { color } => write!(f, "draining and retiring {color}"),
            Self::Judged {
                color,
                readings,
                live,
                live_readings,
                verdict,
            } => {
                let measured = |readings: &Option<Readings>| {
                    readings.map_or_else(|| "no metrics".to_owned(), |r| r.to_string())
                };
                write!(f, "judged {color} ({})", measured(readings))?;
                if let Some(live) = live {
                    write!(f, " against {live} ({})", measured(live_readings))?;
                }
                write!(f, ": {verdict}")
            }
            Self::Abandon { color } => write!(f, "abandoning {color}; live color unchanged"),
            Self::RollBack { to } => write!(f, "rolling back to {to}"),
            Self::Resume { stage } => write!(f, "resuming from {stage}"),
            Self::Paused { stage } => write!(
                f,
                "paused at {stage}; `dashctl rollout resume` goes on, `dashctl rollout abort` undoes it"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub service: String,
    pub from: Option<Color>,
    pub to: Color,
}

fn platform(service: &str) -> impl Fn(PlatformError) -> RolloutError + '_ {
    move |error| RolloutError::Platform {
        service: service.to_owned(),
        error,
    }
}

/// Why waiting for health stopped without success.
enum Stop {
    TimedOut,
    Unhealthy,
    Failed(PlatformError),
    Cancelled,
    /// The new color's metrics broke a `deploy.judge` limit: the metric, both colors' values
    /// and the limit, in one sentence.
    Breach(String),
}

impl Stop {
    fn reason(&self) -> String {
        match self {
            Self::TimedOut => "health timeout".to_owned(),
            Self::Unhealthy => "it turned unhealthy".to_owned(),
            Self::Failed(error) => with_causes(error),
            Self::Cancelled => "interrupted".to_owned(),
            Self::Breach(reason) => reason.clone(),
        }
    }

    /// What happened while baking, for the error that says traffic went back.
    fn while_baking(&self) -> String {
        match self {
            Self::Breach(reason) => format!("failed its judgement while baking: {reason}"),
            _ => "turned unhealthy while baking".to_owned(),
        }
    }
}

/// How often a color's metrics are judged during a step (and once more at its end): load
/// balancer metrics come in periods of a minute, and each read costs a CloudWatch request.
const JUDGE_INTERVAL: Duration = Duration::from_secs(5);

/// What undoing a rollout came to.
enum Undone {
    /// Traffic is back on the live color (or never left it); what else went wrong, if anything.
    Done(Option<String>),
    /// Traffic could not be moved back to `live`; nothing else was touched, since scaling the
    /// new color down would take capacity from a color still serving traffic.
    TrafficStuck { live: Color, error: PlatformError },
}

/// The error for a rollout that stopped for `reason` and was undone as `undone` says: the live
/// color serves again (exit 3), or traffic is stuck where the rollout left it (exit 4).
fn abandoned(
    service: &str,
    target: Color,
    live: &str,
    reason: String,
    undone: Undone,
) -> RolloutError {
    match undone {
        Undone::Done(cleanup) => RolloutError::Abandoned {
            service: service.to_owned(),
            color: target,
            live: live.to_owned(),
            reason: with_cleanup(reason, cleanup),
        },
        Undone::TrafficStuck { live, error } => RolloutError::UndoFailed {
            service: service.to_owned(),
            color: target,
            live,
            reason,
            error,
        },
    }
}

/// The reason a rollout stopped, with any trouble cleaning up after it.
fn with_cleanup(reason: String, cleanup: Option<String>) -> String {
    match cleanup {
        Some(cleanup) => format!("{reason}; while undoing it: {cleanup}"),
        None => reason,
    }
}

/// One rollout at work: the platform it runs on, its options, and where its progress goes;
/// every step below is a method, so each says only what is its own.
struct Engine<'a, P: Platform> {
    platform: &'a P,
    options: &'a RolloutOptions,
    progress: &'a (dyn Fn(Step) + Send + Sync),
}

impl<'a, P: Platform> Engine<'a, P> {
    fn new(
        platform: &'a P,
        options: &'a RolloutOptions,
        progress: &'a (dyn Fn(Step) + Send + Sync),
    ) -> Self {
        Self {
            platform,
            options,
            progress,
        }
    }

    /// Reads both colors' metrics since `since`, judges `color` and reports it. A failed read is
    /// no verdict, not a breach: the alarms still stand guard, and a metrics API having a bad
    /// minute must not undo a good release.
    async fn judge_once(
        &self,
        service: &str,
        color: Color,
        live: Option<Color>,
        since: SystemTime,
        thresholds: &Thresholds,
    ) -> Result<(), Stop> {
        let read = async |color: Color| self.platform.readings(service, color, since).await;
        let (readings, live_readings) = match read(color).await {
            Ok(readings) => match live {
                Some(live) => (readings, read(live).await),
                None => (readings, Ok(None)),
            },
            Err(error) => (None, Err(error)),
        };
        let verdict = match &live_readings {
            Err(error) => Verdict::NoVerdict {
                reason: format!("could not read the metrics: {}", with_causes(error)),
            },
            Ok(live_readings) => judge::judge(thresholds, color, readings, live, *live_readings),
        };
        (self.progress)(Step::Judged {
            color,
            readings,
            live,
            live_readings: live_readings.ok().flatten(),
            verdict: verdict.clone(),
        });
        match verdict {
            Verdict::Breach { reason, .. } => Err(Stop::Breach(reason)),
            Verdict::Pass | Verdict::NoVerdict { .. } => Ok(()),
        }
    }

    /// Polls until every instance of `color` is healthy.
    async fn wait_healthy(&self, service: &str, color: Color) -> Result<(), Stop> {
        let deadline = Instant::now() + self.options.health_timeout;
        loop {
            match self.platform.is_healthy(service, color).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(error) => return Err(Stop::Failed(error)),
            }
            if Instant::now() >= deadline {
                return Err(Stop::TimedOut);
            }
            tokio::select! {
                () = tokio::time::sleep(self.options.poll_interval) => {}
                () = self.options.cancel.cancelled() => return Err(Stop::Cancelled),
            }
        }
    }

    /// Watches `color` for `duration`; stops as soon as it is unhealthy, or its metrics break a
    /// `deploy.judge` limit (judged against `live`'s, every [`JUDGE_INTERVAL`] and at the end), or
    /// on cancel, when `cancellable`.
    async fn watch(
        &self,
        service: &str,
        color: Color,
        live: Option<Color>,
        duration: Duration,
        cancellable: bool,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + duration;
        let since = SystemTime::now();
        let mut judged = Instant::now();
        loop {
            match self.platform.is_healthy(service, color).await {
                Ok(true) => {}
                Ok(false) => return Err(Stop::Unhealthy),
                Err(error) => return Err(Stop::Failed(error)),
            }
            let now = Instant::now();
            if let Some(thresholds) = &self.options.judge
                && (now >= deadline || now.duration_since(judged) >= JUDGE_INTERVAL)
            {
                self.judge_once(service, color, live, since, thresholds)
                    .await?;
                judged = now;
            }
            if now >= deadline {
                return Ok(());
            }
            let pause = self.options.poll_interval.min(deadline - now);
            if cancellable {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = self.options.cancel.cancelled() => return Err(Stop::Cancelled),
                }
            } else {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Moves traffic, then waits until the router reports exactly that split: nothing is scaled
    /// down or declared done on weights the router has not applied (or that someone changed
    /// meanwhile).
    async fn shift(&self, service: &str, to: Color, percent: u8) -> PlatformResult {
        self.platform.shift_traffic(service, to, percent).await?;
        let wanted = Traffic::to(to, percent);
        let deadline = Instant::now() + self.options.traffic_timeout;
        loop {
            let reported = self.platform.traffic(service).await?;
            if reported == Some(wanted) {
                (self.progress)(Step::TrafficConfirmed { traffic: wanted });
                return Ok(());
            }
            if Instant::now() >= deadline {
                let reported = reported.map_or_else(|| "no traffic".to_owned(), |t| t.to_string());
                return Err(PlatformError::Failed(format!(
                    "traffic was set to {wanted}, but after {} the router still reports {reported}",
                    humantime::format_duration(self.options.traffic_timeout)
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Undoes a rollout that has not fully switched: all traffic back to the live color, the
    /// test route removed, the new color scaled down and given back its previous release, the
    /// journal cleared.
    async fn abandon(&self, journal: &JournalOf<P>, shifted: bool) -> Undone {
        let service = journal.service.as_str();
        let target = journal.target;
        (self.progress)(Step::Abandon { color: target });
        let mut problems = Vec::new();
        if shifted
            && let Some(live) = journal.live
            && let Err(error) = self.shift(service, live, 100).await
        {
            // The journal stays: `rollout abort` tries again.
            return Undone::TrafficStuck { live, error };
        }
        // On every path, also before the route was opened: one left by a rollout that was killed
        // goes too.
        if let Err(error) = self.platform.close_test_route(service).await {
            problems.push(format!(
                "could not remove the test route: {}",
                with_causes(&error)
            ));
        }
        if let Err(error) = self.platform.retire(service, target).await {
            problems.push(format!(
                "could not scale {target} down: {}",
                with_causes(&error)
            ));
        }
        if let Some(kept) = &journal.kept
            && let Err(error) = self.platform.revert_release(service, target, kept).await
        {
            problems.push(format!(
                "could not restore {target}'s previous release: {}",
                with_causes(&error)
            ));
        }
        // Traffic is on the live color: what is left over is said in the error, not resumable.
        if let Err(error) = self.platform.clear_journal(service).await {
            problems.push(format!(
                "could not clear the rollout journal: {}",
                with_causes(&error)
            ));
        }
        Undone::Done((!problems.is_empty()).then(|| problems.join("; ")))
    }

    /// Opens the test route to `color` and runs the smoke test, if any, against it. Err: why the
    /// release must not go on.
    async fn check_through_test_route(&self, service: &str, color: Color) -> Result<(), String> {
        let url = self
            .platform
            .open_test_route(service, color)
            .await
            .map_err(|error| format!("could not open the test route: {}", with_causes(&error)))?;
        (self.progress)(Step::TestRoute {
            color,
            url: url.clone(),
        });
        if let Some(smoke) = &self.options.smoke_test {
            (self.progress)(Step::SmokeTest { color });
            smoke
                .run(service, color, &url, &self.options.cancel)
                .await?;
        }
        Ok(())
    }

    /// All traffic back on `old` after the new color went live, autoscaling with it, and the new
    /// color scaled down with its earlier release back. Traffic that cannot be moved back is
    /// `UndoFailed` (with `reason`); any later step failing is a plain platform failure.
    async fn switch_back(
        &self,
        journal: &JournalOf<P>,
        old: Color,
        reason: String,
    ) -> Result<(), RolloutError> {
        let service = journal.service.as_str();
        let fail = platform(service);
        (self.progress)(Step::RollBack { to: old });
        if let Err(error) = self.shift(service, old, 100).await {
            return Err(RolloutError::UndoFailed {
                service: service.to_owned(),
                color: journal.target,
                live: old,
                reason,
                error,
            });
        }
        // Traffic is back: what fails from here is a plain failure, and the journal stays for a
        // second `rollout abort`.
        self.platform
            .retarget_scaling(service, old)
            .await
            .map_err(&fail)?;
        self.platform
            .retire(service, journal.target)
            .await
            .map_err(&fail)?;
        if let Some(kept) = &journal.kept {
            self.platform
                .revert_release(service, journal.target, kept)
                .await
                .map_err(&fail)?;
        }
        Ok(())
    }

    /// The rollout's state machine: does the work after `journal.stage`, journals the next stage,
    /// and goes on until the old color is retired, the rollout is undone, or `wait_until`.
    async fn run(
        &self,
        journal: &mut JournalOf<P>,
        release: Option<&P::Release>,
    ) -> Result<Reached, RolloutError> {
        loop {
            let next = match journal.stage {
                Stage::Starting => self.start(journal, release).await?,
                Stage::Started => self.become_healthy(journal).await?,
                Stage::Checking => {
                    let checked = self
                        .check_through_test_route(&journal.service, journal.target)
                        .await;
                    if let Err(reason) = checked {
                        return Err(self.give_up(journal, false, reason).await);
                    }
                    Stage::Healthy
                }
                Stage::Healthy => match (journal.live, self.options.canary.first()) {
                    (Some(_), Some(&(percent, _))) => Stage::Canary { step: 0, percent },
                    _ => Stage::Switching,
                },
                Stage::Canary { step, percent } => {
                    // Journaled before its weights are set: a resumed rollout sets them again.
                    let duration = self
                        .options
                        .canary
                        .get(step)
                        .map_or(Duration::ZERO, |(_, duration)| *duration);
                    self.canary_step(journal, percent, duration).await?;
                    match self.options.canary.get(step + 1) {
                        Some(&(percent, _)) => Stage::Canary {
                            step: step + 1,
                            percent,
                        },
                        None => Stage::Switching,
                    }
                }
                Stage::Switching => self.switch(journal).await?,
                Stage::Switched => self.bake(journal).await?,
                Stage::Baked => return self.finish(journal).await,
            };
            journal.stage = next;
            let paused = self.options.wait_until.map(WaitUntil::stage) == Some(next);
            journal.paused = paused;
            if let Err(error) = self.platform.save_journal(journal).await {
                let reason = format!(
                    "could not record the rollout's stage: {}",
                    with_causes(&error)
                );
                if next.switched() {
                    return Err(platform(&journal.service)(error));
                }
                let shifted = matches!(next, Stage::Canary { .. });
                return Err(self.give_up(journal, shifted, reason).await);
            }
            if paused {
                let view = JournalView::from(&*journal);
                (self.progress)(Step::Paused { stage: next });
                return Ok(Reached::Paused(view));
            }
        }
    }

    /// `starting`: journals what the new color runs now (once: a resumed start keeps the first
    /// reading), then starts the release on it.
    async fn start(
        &self,
        journal: &mut JournalOf<P>,
        release: Option<&P::Release>,
    ) -> Result<Stage, RolloutError> {
        let service = journal.service.clone();
        let fail = platform(&service);
        let target = journal.target;
        if journal.kept.is_none() {
            let kept = self
                .platform
                .current_release(&service, target)
                .await
                .map_err(&fail)?;
            journal.kept = Some(kept);
            self.platform.save_journal(journal).await.map_err(&fail)?;
        }
        (self.progress)(Step::Start { color: target });
        let started = match release {
            Some(release) => self.platform.start_release(&service, target, release).await,
            None => Err(PlatformError::Failed(
                "the release to start is not known".to_owned(),
            )),
        };
        match started {
            Ok(()) => Ok(Stage::Started),
            Err(error) => Err(self.give_up(journal, false, with_causes(&error)).await),
        }
    }

    /// `started`: waits for the new color's health; a color that never gets there is abandoned.
    async fn become_healthy(&self, journal: &JournalOf<P>) -> Result<Stage, RolloutError> {
        let service = journal.service.as_str();
        let target = journal.target;
        (self.progress)(Step::WaitHealthy { color: target });
        let Err(stop) = self.wait_healthy(service, target).await else {
            return Ok(Stage::Checking);
        };
        let live = journal
            .live
            .map_or_else(|| "nothing".to_owned(), |color| color.to_string());
        let undone = self.abandon(journal, false).await;
        Err(match (stop, undone) {
            (Stop::TimedOut, Undone::Done(None)) => RolloutError::NeverHealthy {
                service: service.to_owned(),
                color: target,
                live,
                timeout: self.options.health_timeout,
            },
            (stop, undone) => abandoned(service, target, &live, stop.reason(), undone),
        })
    }

    /// `switched`: the new color serves alone while it bakes; one that fails is rolled back to
    /// the old color, which is still up.
    async fn bake(&self, journal: &JournalOf<P>) -> Result<Stage, RolloutError> {
        let Some(old) = journal.live else {
            return Ok(Stage::Baked);
        };
        let service = journal.service.as_str();
        let target = journal.target;
        (self.progress)(Step::Bake {
            color: target,
            duration: self.options.bake,
        });
        let baked = self
            .watch(service, target, Some(old), self.options.bake, false)
            .await;
        match baked {
            Err(stop) if self.options.auto_rollback => {
                let reason = stop.while_baking();
                self.switch_back(journal, old, format!("it {reason}"))
                    .await?;
                self.platform
                    .clear_journal(service)
                    .await
                    .map_err(platform(service))?;
                Err(RolloutError::RolledBack {
                    service: service.to_owned(),
                    color: target,
                    live: old,
                    reason,
                })
            }
            _ => Ok(Stage::Baked),
        }
    }

    /// `baked`: the old color is retired or kept warm, and the rollout's journal is cleared.
    async fn finish(&self, journal: &JournalOf<P>) -> Result<Reached, RolloutError> {
        let service = journal.service.as_str();
        let fail = platform(service);
        if let Some(old) = journal.live {
            if self.options.keep_previous.is_zero() {
                (self.progress)(Step::Retire { color: old });
                self.platform.retire(service, old).await.map_err(&fail)?;
            } else {
                (self.progress)(Step::KeepWarm {
                    color: old,
                    duration: self.options.keep_previous,
                });
                self.platform
                    .keep_warm(service, old, self.options.keep_previous)
                    .await
                    .map_err(&fail)?;
            }
        }
        self.platform.clear_journal(service).await.map_err(&fail)?;
        Ok(Reached::Live(Outcome {
            service: service.to_owned(),
            from: journal.live,
            to: journal.target,
        }))
    }

    /// Sends a canary step's share of traffic to the new color and watches it for `duration`;
    /// Err: the rollout was given up.
    async fn canary_step(
        &self,
        journal: &JournalOf<P>,
        percent: u8,
        duration: Duration,
    ) -> Result<(), RolloutError> {
        let service = journal.service.as_str();
        let target = journal.target;
        (self.progress)(Step::Canary {
            to: target,
            percent,
            duration,
        });
        let watched = match self.shift(service, target, percent).await {
            Ok(()) => {
                self.watch(service, target, journal.live, duration, true)
                    .await
            }
            Err(error) => Err(Stop::Failed(error)),
        };
        if let Err(stop) = watched {
            let reason = format!("canary at {percent}%: {}", stop.reason());
            return Err(self.give_up(journal, true, reason).await);
        }
        Ok(())
    }

    /// Closes the test route (a live color is reached without it), sends all traffic to the new
    /// color and points autoscaling at it.
    async fn switch(&self, journal: &JournalOf<P>) -> Result<Stage, RolloutError> {
        let service = journal.service.as_str();
        (self.progress)(Step::Switch { to: journal.target });
        let switched = match self.platform.close_test_route(service).await {
            Ok(()) => self.shift(service, journal.target, 100).await,
            Err(error) => Err(error),
        };
        if let Err(error) = switched {
            return Err(self.give_up(journal, true, with_causes(&error)).await);
        }
        self.platform
            .retarget_scaling(service, journal.target)
            .await
            .map_err(platform(service))?;
        Ok(Stage::Switched)
    }

    /// Stops the rollout for `reason` after `shifted` moved traffic (or not), and says how it
    /// ended; the journal goes once traffic is back on the live color.
    async fn give_up(&self, journal: &JournalOf<P>, shifted: bool, reason: String) -> RolloutError {
        let undone = self.abandon(journal, shifted).await;
        let live = journal
            .live
            .map_or_else(|| "nothing".to_owned(), |color| color.to_string());
        abandoned(&journal.service, journal.target, &live, reason, undone)
    }
}

/// Where a deploy (or a resumed one) ended without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// The new color is live and the old one retired (or kept warm).
    Live(Outcome),
    /// Stopped at `--wait-until`'s stage; the journal holds it for `rollout resume` or `abort`.
    Paused(JournalView),
}

impl Reached {
    pub fn service(&self) -> &str {
        match self {
            Self::Live(outcome) => &outcome.service,
            Self::Paused(journal) => &journal.service,
        }
    }
}

/// The journal of a rollout on platform `P`.
pub type JournalOf<P> = Journal<<P as Platform>::Kept>;

/// Deploys `release` to the idle color, switches traffic to it once healthy (through the
/// canary steps, if any), bakes, and retires the old color; or stops at
/// `options.wait_until`. Every stage reached is journaled first (see [`journal`]).
pub async fn deploy<P: Platform>(
    platform_: &P,
    service: &str,
    release: &P::Release,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Reached, RolloutError> {
    let engine = Engine::new(platform_, options, progress);
    let live = platform_
        .live_color(service)
        .await
        .map_err(platform(service))?;
    let mut journal = Journal {
        service: service.to_owned(),
        target: live.map_or(Color::Blue, Color::other),
        live,
        stage: Stage::Starting,
        release: platform_.describe_release(release),
        kept: None,
        paused: false,
    };
    engine.run(&mut journal, Some(release)).await
}

/// Continues a journaled rollout from its stage. `release` is the spec's release for the
/// service: needed only by a rollout that stopped while its release was being started, and
/// then only if it is the one that rollout started.
pub async fn resume<P: Platform>(
    platform_: &P,
    mut journal: JournalOf<P>,
    release: Option<&P::Release>,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Reached, RolloutError> {
    let engine = Engine::new(platform_, options, progress);
    let release = match (journal.stage, release) {
        (Stage::Starting, Some(release))
            if platform_.describe_release(release) == journal.release =>
        {
            Some(release)
        }
        (Stage::Starting, other) => {
            return Err(RolloutError::ReleaseChanged {
                service: journal.service.clone(),
                started: journal.release.clone(),
                spec: other.map(|release| platform_.describe_release(release)),
            });
        }
        _ => None,
    };
    progress(Step::Resume {
        stage: journal.stage,
    });
    journal.paused = false;
    platform_
        .save_journal(&journal)
        .await
        .map_err(platform(&journal.service))?;
    engine.run(&mut journal, release).await
}

/// What aborting a journaled rollout came to: traffic is on `live` again (nothing, for a
/// first deploy) and the new color is scaled down with its earlier release back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aborted {
    pub service: String,
    pub color: Color,
    pub live: Option<Color>,
}

/// Undoes a journaled rollout: before the switch, as an abandon; after it, by switching back
/// to the old color, which is still up until the rollout ends.
pub async fn abort<P: Platform>(
    platform_: &P,
    journal: JournalOf<P>,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Aborted, RolloutError> {
    let engine = Engine::new(platform_, options, progress);
    let service = journal.service.as_str();
    let fail = platform(service);
    let aborted = Aborted {
        service: service.to_owned(),
        color: journal.target,
        live: journal.live,
    };
    match journal.live {
        Some(old) if journal.stage.switched() => {
            engine
                .switch_back(&journal, old, "aborted".to_owned())
                .await?;
            platform_.clear_journal(service).await.map_err(&fail)?;
        }
        live => {
            // Traffic may have moved by a step the journal had not yet recorded.
            let all_on_live = match live {
                Some(live) => {
                    platform_.traffic(service).await.map_err(&fail)? == Some(Traffic::to(live, 100))
                }
                None => true,
            };
            match engine.abandon(&journal, !all_on_live).await {
                Undone::Done(None) => {}
                Undone::Done(Some(problems)) => {
                    return Err(RolloutError::Platform {
                        service: service.to_owned(),
                        error: PlatformError::Failed(problems),
                    });
                }
                Undone::TrafficStuck { live, error } => {
                    return Err(RolloutError::UndoFailed {
                        service: service.to_owned(),
                        color: journal.target,
                        live,
                        reason: "aborted".to_owned(),
                        error,
                    });
                }
            }
        }
    }
    Ok(aborted)
}

/// Switches traffic back to the previous color, bringing it back up first if it was retired.
pub async fn rollback<P: Platform>(
    platform_: &P,
    service: &str,
    options: &RolloutOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Outcome, RolloutError> {
    let engine = Engine::new(platform_, options, progress);
    let fail = platform(service);
    let live = platform_
        .live_color(service)
        .await
        .map_err(&fail)?
        .ok_or_else(|| RolloutError::NeverDeployed {
            service: service.to_owned(),
        })?;
    let previous = live.other();
    if !platform_
        .has_release(service, previous)
        .await
        .map_err(&fail)?
    {
        return Err(RolloutError::NothingToRollBack {
            service: service.to_owned(),
            color: previous,
        });
    }
    progress(Step::Start { color: previous });
    // A test route a killed deploy left would keep sending its header's requests to a color
    // this rollback is about to retire.
    platform_.close_test_route(service).await.map_err(&fail)?;
    platform_.restore(service, previous).await.map_err(&fail)?;
    progress(Step::WaitHealthy { color: previous });
    if let Err(stop) = engine.wait_healthy(service, previous).await {
        progress(Step::Abandon { color: previous });
        platform_.retire(service, previous).await.map_err(&fail)?;
        return Err(match stop {
            Stop::TimedOut => RolloutError::NeverHealthy {
                service: service.to_owned(),
                color: previous,
                live: live.to_string(),
                timeout: options.health_timeout,
            },
            other => RolloutError::Abandoned {
                service: service.to_owned(),
                color: previous,
                live: live.to_string(),
                reason: other.reason(),
            },
        });
    }
    progress(Step::RollBack { to: previous });
    engine.shift(service, previous, 100).await.map_err(&fail)?;
    platform_
        .retarget_scaling(service, previous)
        .await
        .map_err(&fail)?;
    progress(Step::Retire { color: live });
    platform_.retire(service, live).await.map_err(&fail)?;
    Ok(Outcome {
        service: service.to_owned(),
        from: Some(live),
        to: previous,
    })
}

/// Rolls `services` back one after another. When several are asked for, one with nothing to
/// roll back to is skipped (and said why); any other failure stops there.
/// Deploys each release in turn, as [`deploy`] does, each with its own options and its steps
/// reported with its service; `reached` hears where each one ended as it ends. Stops at the
/// first that fails, and starts none once cancelled (Ctrl-C while an earlier one finished
/// after its switch).
pub async fn deploy_all<P, R>(
    platform_: &P,
    releases: impl IntoIterator<Item = (String, R)>,
    options: impl Fn(&str) -> RolloutOptions,
    progress: &(dyn Fn(&str, Step) + Send + Sync),
    mut reached: impl FnMut(Reached),
) -> Result<(), RolloutError>
where
    P: Platform,
    R: std::borrow::Borrow<P::Release>,
{
    for (service, release) in releases {
        let options = options(&service);
        if options.cancel.is_cancelled() {
            return Err(RolloutError::Interrupted { service });
        }
        let report = |step: Step| progress(&service, step);
        reached(deploy(platform_, &service, release.borrow(), &options, &report).await?);
    }
    Ok(())
}

pub async fn rollback_all<P: Platform>(
    platform_: &P,
    services: &[String],
    options: impl Fn(&str) -> RolloutOptions,
    progress: &(dyn Fn(&str, Step) + Send + Sync),
) -> Result<Rollbacks, RolloutError> {
    let mut rolled = Rollbacks::default();
    for service in services {
        let report = |step: Step| progress(service, step);
        match rollback(platform_, service, &options(service), &report).await {
            Ok(outcome) => rolled.outcomes.push(outcome),
            Err(error) if services.len() > 1 && error.is_nothing_to_roll_back() => {
                rolled.nothing_to_roll_back.push(error.to_string())
            }
            Err(error) => return Err(error),
        }
    }
    Ok(rolled)
}

#[cfg(test)]
mod tests;
