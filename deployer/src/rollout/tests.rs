//! The rollout state machine against a fake platform that records every call.

mod resume;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::*;

#[derive(Default)]
struct FakePlatform {
    live: Mutex<Option<Color>>,
    /// Release each color runs (kept after retiring, like a task definition).
    releases: Mutex<HashMap<Color, String>>,
    running: Mutex<HashMap<Color, bool>>,
    /// The journal as last saved, and every stage saved in order.
    journal: Mutex<Option<Journal<Option<String>>>>,
    journaled: Mutex<Vec<String>>,
    /// Releases that never become healthy.
    broken: Vec<String>,
    /// Releases that pass the first health checks, then fail (while baking).
    flaky: Vec<String>,
    checks: Mutex<u32>,
    calls: Mutex<Vec<String>>,
    /// Calls (by their recorded prefix, e.g. "start green") that fail.
    failing: Vec<&'static str>,
    /// The split the router reports, and how many more reads report the one before a shift.
    traffic: Mutex<(Option<Traffic>, Option<Traffic>, u32)>,
    /// Reads of the router that still report the old split after each shift (u32::MAX: the
    /// router never applies it, as when someone keeps changing it back).
    traffic_lag: u32,
    /// The color the test route reaches, while one is open.
    route: Mutex<Option<Color>>,
    /// Every call in order, the test route's included ("open-route green", "close-route").
    timeline: Mutex<Vec<String>>,
    /// After journaling this stage (as `Stage`'s Display says it), the rollout hangs for good,
    /// once: the test drops it there, as SIGKILL would stop a dashctl.
    hang_after: Option<&'static str>,
    hung: Mutex<bool>,
    /// What the load balancer measures for a color running each release (none: no metrics).
    metrics: HashMap<String, Readings>,
}

impl FakePlatform {
    /// Deploys `release` of portal, reporting nothing.
    async fn release(
        &self,
        release: &str,
        options: &RolloutOptions,
    ) -> Result<Outcome, RolloutError> {
        match deploy(self, "portal", &release.to_owned(), options, &quiet).await? {
            Reached::Live(outcome) => Ok(outcome),
            Reached::Paused(paused) => panic!("paused unasked: {paused:?}"),
        }
    }
    fn journal(&self) -> Option<Journal<Option<String>>> {
        self.journal.lock().expect("lock").clone()
    }
    fn journaled(&self) -> Vec<String> {
        self.journaled.lock().expect("lock").clone()
    }
    /// Rolls portal back, reporting nothing.
    async fn roll_back(&self) -> Result<Outcome, RolloutError> {
        rollback(self, "portal", &options(), &quiet).await
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
    /// The timeline without the journal's writes.
    fn timeline(&self) -> Vec<String> {
        self.timeline
            .lock()
            .expect("lock")
            .iter()
            .filter(|call| !call.starts_with("journal"))
            .cloned()
            .collect()
    }
    /// Every call, the journal's writes included.
    fn timeline_with_journal(&self) -> Vec<String> {
        self.timeline.lock().expect("lock").clone()
    }
    fn route(&self) -> Option<Color> {
        *self.route.lock().expect("lock")
    }
    fn record(&self, call: String) -> Result<(), PlatformError> {
        self.calls.lock().expect("lock").push(call.clone());
        self.record_in_timeline(call)
    }
    /// Records `call` in the timeline only (the test route's calls), failing as `record` does.
    fn record_in_timeline(&self, call: String) -> Result<(), PlatformError> {
        let failed = self.failing.iter().any(|prefix| call.starts_with(prefix));
        self.timeline.lock().expect("lock").push(call.clone());
        if failed {
            Err(PlatformError::Failed(format!("{call} failed")))
        } else {
            Ok(())
        }
    }
}

impl Platform for FakePlatform {
    type Release = String;
    type Kept = Option<String>;

    fn describe_release(&self, release: &String) -> String {
        release.clone()
    }
    async fn current_release(
        &self,
        _: &str,
        color: Color,
    ) -> Result<Option<String>, PlatformError> {
        Ok(self.releases.lock().expect("lock").get(&color).cloned())
    }

    async fn live_color(&self, _: &str) -> Result<Option<Color>, PlatformError> {
        Ok(*self.live.lock().expect("lock"))
    }
    async fn start_release(
        &self,
        _: &str,
        color: Color,
        release: &String,
    ) -> Result<(), PlatformError> {
        self.record(format!("start {color} {release}"))?;
        self.releases
            .lock()
            .expect("lock")
            .insert(color, release.clone());
        self.running.lock().expect("lock").insert(color, true);
        Ok(())
    }
    async fn has_release(&self, _: &str, color: Color) -> Result<bool, PlatformError> {
        Ok(self.releases.lock().expect("lock").contains_key(&color))
    }
    async fn restore(&self, _: &str, color: Color) -> Result<(), PlatformError> {
        self.record(format!("restore {color}"))?;
        if !self.releases.lock().expect("lock").contains_key(&color) {
            return Err(PlatformError::Failed(format!("{color} never ran")));
        }
        self.running.lock().expect("lock").insert(color, true);
        Ok(())
    }
    async fn revert_release(
        &self,
        _: &str,
        color: Color,
        kept: &Option<String>,
    ) -> Result<(), PlatformError> {
        self.record(format!("revert {color}"))?;
        let mut releases = self.releases.lock().expect("lock");
        match kept {
            Some(release) => releases.insert(color, release.clone()),
            None => releases.remove(&color),
        };
        Ok(())
    }
    async fn is_healthy(&self, _: &str, color: Color) -> Result<bool, PlatformError> {
        if self.failing.contains(&"health") {
            // Like an AWS call: the platform's message over the API's own error.
            return Err(PlatformError::Call(
                anyhow::anyhow!("throttled").context("health check API failed"),
            ));
        }
        let release = self
            .releases
            .lock()
            .expect("lock")
            .get(&color)
            .cloned()
            .unwrap_or_default();
        let running = self
            .running
            .lock()
            .expect("lock")
            .get(&color)
            .copied()
            .unwrap_or(false);
        let mut checks = self.checks.lock().expect("lock");
        *checks += 1;
        let flaky_failed = self.flaky.contains(&release) && *checks > 2;
        Ok(running && !self.broken.contains(&release) && !flaky_failed)
    }
    async fn shift_traffic(&self, _: &str, to: Color, percent: u8) -> Result<(), PlatformError> {
        {
            let mut traffic = self.traffic.lock().expect("lock");
            let reported = traffic.0;
            *traffic = (reported, Some(Traffic::to(to, percent)), self.traffic_lag);
        }
        if percent == 100 {
            self.record(format!("shift {to}"))?;
            *self.live.lock().expect("lock") = Some(to);
        } else {
            self.record(format!("shift {percent}% {to}"))?;
        }
        Ok(())
    }
    async fn traffic(&self, _: &str) -> Result<Option<Traffic>, PlatformError> {
        let mut traffic = self.traffic.lock().expect("lock");
        if traffic.2 > 0 {
            traffic.2 = traffic.2.saturating_sub(u32::from(traffic.2 != u32::MAX));
            return Ok(traffic.0);
        }
        traffic.0 = traffic.1;
        Ok(traffic.0)
    }
    async fn retarget_scaling(&self, _: &str, to: Color) -> Result<(), PlatformError> {
        self.record(format!("scale-on {to}"))
    }
    async fn keep_warm(
        &self,
        _: &str,
        color: Color,
        window: Duration,
    ) -> Result<(), PlatformError> {
        self.record(format!("keep {color} {}ms", window.as_millis()))
    }
    async fn retire(&self, _: &str, color: Color) -> Result<(), PlatformError> {
        self.record(format!("retire {color}"))?;
        self.running.lock().expect("lock").insert(color, false);
        Ok(())
    }
    async fn open_test_route(&self, _: &str, color: Color) -> Result<String, PlatformError> {
        self.record_in_timeline(format!("open-route {color}"))?;
        *self.route.lock().expect("lock") = Some(color);
        Ok("http://portal.test".to_owned())
    }
    async fn close_test_route(&self, _: &str) -> Result<(), PlatformError> {
        self.record_in_timeline("close-route".to_owned())?;
        *self.route.lock().expect("lock") = None;
        Ok(())
    }
    async fn save_journal(&self, journal: &Journal<Option<String>>) -> Result<(), PlatformError> {
        self.record_in_timeline(format!("journal {}", journal.stage))?;
        self.journaled
            .lock()
            .expect("lock")
            .push(journal.stage.to_string());
        *self.journal.lock().expect("lock") = Some(journal.clone());
        let hang = self.hang_after == Some(journal.stage.to_string().as_str())
            && !std::mem::replace(&mut *self.hung.lock().expect("lock"), true);
        if hang {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn clear_journal(&self, _: &str) -> Result<(), PlatformError> {
        self.record_in_timeline("journal cleared".to_owned())?;
        *self.journal.lock().expect("lock") = None;
        Ok(())
    }
    async fn readings(
        &self,
        _: &str,
        color: Color,
        _since: std::time::SystemTime,
    ) -> Result<Option<Readings>, PlatformError> {
        if self.failing.contains(&"readings") {
            return Err(PlatformError::Failed("GetMetricData: throttled".into()));
        }
        let release = self.releases.lock().expect("lock").get(&color).cloned();
        Ok(release.and_then(|release| self.metrics.get(&release).copied()))
    }
}

fn options() -> RolloutOptions {
    RolloutOptions {
        health_timeout: Duration::from_millis(50),
        canary: Vec::new(),
        bake: Duration::from_millis(30),
        auto_rollback: true,
        keep_previous: Duration::ZERO,
        traffic_timeout: Duration::from_millis(50),
        poll_interval: Duration::from_millis(5),
        cancel: CancellationToken::new(),
        smoke_test: None,
        wait_until: None,
        judge: None,
    }
}

fn canary() -> RolloutOptions {
    RolloutOptions {
        canary: vec![
            (10, Duration::from_millis(10)),
            (50, Duration::from_millis(10)),
        ],
        ..options()
    }
}

fn quiet(_: Step) {}

#[tokio::test]
async fn first_deploy_goes_live_on_blue() {
    let fake = FakePlatform::default();
    let outcome = fake.release("v1", &options()).await.expect("deploy");
    assert_eq!(
        outcome,
        Outcome {
            service: "portal".into(),
            from: None,
            to: Color::Blue
        }
    );
    assert_eq!(
        fake.calls(),
        ["start blue v1", "shift blue", "scale-on blue"]
    );
}

#[tokio::test]
async fn deploy_switches_to_the_idle_color_then_retires_the_old_one() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step.to_string());
    let Reached::Live(outcome) = deploy(&fake, "portal", &"v2".to_owned(), &options(), &record)
        .await
        .expect("v2")
    else {
        panic!("paused unasked");
    };
    assert_eq!(outcome.from, Some(Color::Blue));
    assert_eq!(outcome.to, Color::Green);
    assert_eq!(
        fake.calls()[3..],
        [
            "start green v2",
            "shift green",
            "scale-on green",
            "retire blue"
        ]
    );
    assert_eq!(
        steps.into_inner().expect("lock"),
        [
            "starting green",
            "waiting for green to be healthy",
            "test route open: http://portal.test with `X-Dashctl-Color: green` reaches green",
            "switching traffic to green",
            "traffic confirmed: blue 0% / green 100%",
            "baking green for 30ms",
            "draining and retiring blue"
        ]
    );
}

#[tokio::test]
async fn keep_previous_leaves_the_old_color_up_and_rollback_only_moves_traffic() {
    let fake = FakePlatform::default();
    let keep = RolloutOptions {
        keep_previous: Duration::from_secs(1800),
        ..options()
    };
    fake.release("v1", &keep).await.expect("v1");
    fake.release("v2", &keep).await.expect("v2");
    assert_eq!(
        fake.calls()[3..],
        [
            "start green v2",
            "shift green",
            "scale-on green",
            "keep blue 1800000ms"
        ]
    );
    fake.roll_back().await.expect("rollback");
    assert_eq!(
        fake.calls()[7..],
        [
            "restore blue",
            "shift blue",
            "scale-on blue",
            "retire green"
        ]
    );
}

#[tokio::test]
async fn nothing_is_retired_before_the_router_reports_the_switch() {
    let fake = FakePlatform {
        traffic_lag: 3,
        ..FakePlatform::default()
    };
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step);
    deploy(&fake, "portal", &"v2".to_owned(), &options(), &record)
        .await
        .expect("v2");
    let steps = steps.into_inner().expect("lock");
    let confirmed = steps
        .iter()
        .position(|step| {
            *step
                == Step::TrafficConfirmed {
                    traffic: Traffic::to(Color::Green, 100),
                }
        })
        .expect("switch confirmed");
    let retired = steps
        .iter()
        .position(|step| matches!(step, Step::Retire { .. }))
        .expect("retired");
    assert!(confirmed < retired, "{steps:?}");
}

#[tokio::test]
async fn a_router_that_never_reports_the_switch_abandons_the_release() {
    let fake = FakePlatform {
        traffic_lag: u32::MAX,
        ..FakePlatform::default()
    };
    let error = fake
        .release("v1", &options())
        .await
        .expect_err("never confirmed");
    assert!(
        error
            .to_string()
            .contains("traffic was set to blue 100% / green 0%, but after 50ms the router still reports no traffic"),
        "{error}"
    );
    assert!(!fake.calls().iter().any(|call| call.starts_with("scale-on")));
}

#[test]
fn traffic_from_weights_rounds_to_percent() {
    assert_eq!(
        Traffic::from_weights(1, 2),
        Some(Traffic {
            blue: 33,
            green: 67
        })
    );
    assert_eq!(
        Traffic::from_weights(0, 999),
        Some(Traffic::to(Color::Green, 100))
    );
    assert_eq!(Traffic::from_weights(0, 0), None);
    assert_eq!(Traffic::to(Color::Blue, 90).of(Color::Green), 10);
}

#[tokio::test]
async fn an_unhealthy_release_never_receives_traffic() {
    let fake = FakePlatform {
        broken: vec!["bad".into()],
        ..Default::default()
    };
    fake.release("v1", &options()).await.expect("v1");
    let error = fake
        .release("bad", &options())
        .await
        .expect_err("must fail");
    assert!(
        matches!(
            error,
            RolloutError::NeverHealthy {
                color: Color::Green,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("blue still serves all traffic"),
        "{error}"
    );
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
    assert_eq!(
        fake.calls()[3..],
        ["start green bad", "retire green", "revert green"]
    );
}

#[tokio::test]
async fn a_release_that_fails_while_baking_is_rolled_back() {
    let fake = FakePlatform {
        flaky: vec!["flaky".into()],
        ..Default::default()
    };
    fake.release("v1", &options()).await.expect("v1");
    *fake.checks.lock().expect("lock") = 0;
    let error = fake
        .release("flaky", &options())
        .await
        .expect_err("rolled back");
    assert!(
        matches!(
            error,
            RolloutError::RolledBack {
                live: Color::Blue,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
    assert_eq!(
        fake.calls()[3..],
        [
            "start green flaky",
            "shift green",
            "scale-on green",
            "shift blue",
            "scale-on blue",
            "retire green",
            "revert green"
        ]
    );
}

#[tokio::test]
async fn rollback_restores_the_previous_color_first() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    fake.release("v2", &options()).await.expect("v2");
    let outcome = fake.roll_back().await.expect("rollback");
    assert_eq!(outcome.to, Color::Blue);
    assert_eq!(
        fake.calls()[7..],
        [
            "restore blue",
            "shift blue",
            "scale-on blue",
            "retire green"
        ]
    );
    assert_eq!(fake.releases.lock().expect("lock")[&Color::Blue], "v1");
}

#[tokio::test]
async fn rollback_before_any_deploy_is_an_error() {
    let fake = FakePlatform::default();
    let error = fake.roll_back().await.expect_err("nothing to roll back");
    assert!(matches!(error, RolloutError::NeverDeployed { .. }));
}

#[tokio::test]
async fn a_failed_deploy_does_not_replace_the_release_rollback_returns_to() {
    let fake = FakePlatform {
        broken: vec!["bad".into()],
        ..Default::default()
    };
    fake.release("v1", &options()).await.expect("v1 on blue");
    fake.release("v2", &options()).await.expect("v2 on green");
    fake.release("bad", &options())
        .await
        .expect_err("bad never healthy");
    let outcome = fake.roll_back().await.expect("rollback");
    assert_eq!(outcome.to, Color::Blue);
    assert_eq!(fake.releases.lock().expect("lock")[&Color::Blue], "v1");
}

#[tokio::test]
async fn canary_steps_shift_weights_before_the_full_switch() {
    let fake = FakePlatform::default();
    fake.release("v1", &canary()).await.expect("v1");
    fake.release("v2", &canary()).await.expect("v2");
    assert_eq!(
        fake.calls()[3..],
        [
            "start green v2",
            "shift 10% green",
            "shift 50% green",
            "shift green",
            "scale-on green",
            "retire blue"
        ]
    );
}

#[tokio::test]
async fn a_canary_that_turns_unhealthy_sends_everything_back() {
    let fake = FakePlatform {
        flaky: vec!["flaky".into()],
        ..Default::default()
    };
    fake.release("v1", &canary()).await.expect("v1");
    *fake.checks.lock().expect("lock") = 0;
    let error = fake
        .release("flaky", &canary())
        .await
        .expect_err("abandoned");
    assert!(matches!(error, RolloutError::Abandoned { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("canary at 10%: it turned unhealthy"),
        "{error}"
    );
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
    assert_eq!(
        fake.calls()[3..],
        [
            "start green flaky",
            "shift 10% green",
            "shift blue",
            "retire green",
            "revert green"
        ]
    );
}

#[tokio::test]
async fn an_interrupted_rollout_leaves_the_live_color() {
    let fake = FakePlatform {
        broken: vec!["slow".into()],
        ..Default::default()
    };
    fake.release("v1", &options()).await.expect("v1");
    let interrupted = RolloutOptions {
        health_timeout: Duration::from_secs(60),
        ..options()
    };
    interrupted.cancel.cancel();
    let error = fake
        .release("slow", &interrupted)
        .await
        .expect_err("interrupted");
    assert!(
        error
            .to_string()
            .contains("abandoned (interrupted); blue still serves all traffic"),
        "{error}"
    );
    assert_eq!(
        fake.calls()[3..],
        ["start green slow", "retire green", "revert green"]
    );
}

/// A failure at each step before the final switch leaves blue live; after it, the error is
/// reported and the state says where it stopped.
#[tokio::test]
async fn failure_at_every_step() {
    for (failing, live_after) in [
        ("start green", Color::Blue),
        ("health", Color::Blue),
        ("shift 10% green", Color::Blue),
        ("shift green", Color::Blue),
        ("scale-on green", Color::Green),
        ("retire blue", Color::Green),
    ] {
        let fake = FakePlatform::default();
        fake.release("v1", &canary()).await.expect("v1");
        let fake = FakePlatform {
            failing: vec![failing],
            ..fake
        };
        let error = fake.release("v2", &canary()).await.expect_err(failing);
        assert_eq!(
            *fake.live.lock().expect("lock"),
            Some(live_after),
            "failing {failing}: {error}"
        );
        if live_after == Color::Blue {
            assert!(
                error.to_string().contains("blue still serves all traffic"),
                "failing {failing}: {error}"
            );
            assert!(
                fake.calls()
                    .ends_with(&["retire green".to_owned(), "revert green".to_owned()]),
                "failing {failing}: {:?}",
                fake.calls()
            );
        }
    }
}

#[tokio::test]
async fn rollback_after_a_single_deploy_has_nothing_to_return_to() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let error = fake.roll_back().await.expect_err("nothing on green");
    assert!(error.is_nothing_to_roll_back(), "{error}");
    assert_eq!(
        fake.calls(),
        ["start blue v1", "shift blue", "scale-on blue"],
        "nothing was touched"
    );
}

#[tokio::test]
async fn rolling_back_several_skips_those_with_nothing_to_return_to_but_one_alone_fails() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let both = ["portal".to_owned(), "hardware".to_owned()];
    let rolled = rollback_all(&fake, &both, |_| options(), &|_, _| {})
        .await
        .expect("skipped, not failed");
    assert!(rolled.outcomes.is_empty());
    assert_eq!(
        rolled.nothing_to_roll_back,
        [
            "portal: nothing to roll back to (green has no earlier release)",
            "hardware: nothing to roll back to (green has no earlier release)",
        ]
    );
    let error = rollback_all(&fake, &both[..1], |_| options(), &|_, _| {})
        .await
        .expect_err("one service with nothing to return to");
    assert!(error.is_nothing_to_roll_back(), "{error}");
}

#[tokio::test]
async fn rolling_back_several_reports_each_step_with_its_service() {
    let fake = FakePlatform::default();
    for release in ["v1", "v2"] {
        fake.release(release, &options()).await.expect(release);
    }
    let steps = Mutex::new(Vec::new());
    let record = |service: &str, step: Step| {
        steps
            .lock()
            .expect("lock")
            .push(format!("{service}: {step}"));
    };
    let rolled = rollback_all(&fake, &["portal".to_owned()], |_| options(), &record)
        .await
        .expect("rolled back");
    assert_eq!(rolled.outcomes.len(), 1);
    assert_eq!(rolled.outcomes[0].to, Color::Blue);
    let steps = steps.into_inner().expect("lock");
    assert!(
        !steps.is_empty() && steps.iter().all(|step| step.starts_with("portal: ")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn a_release_that_cannot_start_reports_why_even_when_cleaning_up_fails() {
    // On AWS the clean-up finds no service to scale down when CreateService itself failed;
    // its error must come after the real one, never instead of it.
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let fake = FakePlatform {
        failing: vec!["start green", "revert green"],
        ..fake
    };
    let error = fake
        .release("v2", &options())
        .await
        .expect_err("cannot start");
    let text = error.to_string();
    assert!(
        text.contains("abandoned (start green v2 failed; while undoing it: could not restore green's previous release: revert green failed)"),
        "{text}"
    );
    assert!(text.ends_with("blue still serves all traffic"), "{text}");
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
}

#[test]
fn a_platform_failure_is_reported_once_with_its_chain() {
    let error = RolloutError::Platform {
        service: "portal".into(),
        error: PlatformError::Failed("UpdateService: throttled".into()),
    };
    assert_eq!(error.to_string(), "portal");
    assert_eq!(
        format!("{:#}", anyhow::Error::from(error)),
        "portal: UpdateService: throttled"
    );
}

#[derive(Debug, thiserror::Error)]
#[error("throttled")]
struct Throttled;

#[test]
fn a_failed_platform_call_keeps_its_cause() {
    let call = anyhow::Error::new(Throttled).context("UpdateService");
    let error = RolloutError::Platform {
        service: "portal".into(),
        error: PlatformError::Call(call),
    };
    let cause = std::error::Error::source(&error).expect("the platform's failure");
    assert_eq!(cause.to_string(), "UpdateService");
    assert!(
        cause
            .source()
            .is_some_and(|root| root.downcast_ref::<Throttled>().is_some()),
        "the AWS error stays reachable under the platform's"
    );
    assert_eq!(with_causes(&error), "portal: UpdateService: throttled");
    assert_eq!(
        format!("{:#}", anyhow::Error::from(error)),
        "portal: UpdateService: throttled"
    );
}

#[tokio::test]
async fn a_failed_health_call_is_the_reason_with_its_causes() {
    // The engine folds a platform failure into its "abandoned (...)" sentence with the
    // whole chain, not only the top message.
    let fake = FakePlatform {
        failing: vec!["health"],
        ..FakePlatform::default()
    };
    let error = fake
        .release("v1", &options())
        .await
        .expect_err("health API fails");
    assert!(
        error
            .to_string()
            .contains("abandoned (health check API failed: throttled)"),
        "{error}"
    );
}

/// A smoke test of `script` (bash) in `dir`.
fn smoke_test(script: &str, dir: &std::path::Path) -> RolloutOptions {
    RolloutOptions {
        smoke_test: Some(SmokeTest {
            command: vec!["bash".into(), "-c".into(), script.into()],
            timeout: Duration::from_secs(30),
            workdir: dir.to_owned(),
        }),
        ..canary()
    }
}

#[tokio::test]
async fn the_test_route_is_open_from_healthy_until_the_switch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step.to_string());
    let smoke = smoke_test(
        r#"echo "$DASHCTL_TEST_URL|$DASHCTL_TEST_HEADER|$DASHCTL_SERVICE|$DASHCTL_COLOR" > told"#,
        dir.path(),
    );
    deploy(&fake, "portal", &"v2".to_owned(), &smoke, &record)
        .await
        .expect("v2");
    assert_eq!(
        fake.timeline()[5..],
        [
            "start green v2",
            "open-route green",
            "shift 10% green",
            "shift 50% green",
            "close-route",
            "shift green",
            "scale-on green",
            "retire blue"
        ],
        "open through the canary steps, closed before the switch"
    );
    assert_eq!(fake.route(), None);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("told"))
            .expect("the smoke test ran in its workdir"),
        "http://portal.test|X-Dashctl-Color: green|portal|green\n"
    );
    let steps = steps.into_inner().expect("lock");
    assert_eq!(
        steps[1..4],
        [
            "waiting for green to be healthy",
            "test route open: http://portal.test with `X-Dashctl-Color: green` reaches green",
            "running the smoke test against green",
        ]
    );
}

#[tokio::test]
async fn a_failing_smoke_test_abandons_before_any_traffic_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let error = fake
        .release("v2", &smoke_test("echo 'GET / -> 500'; exit 4", dir.path()))
        .await
        .expect_err("smoke test fails");
    let text = error.to_string();
    assert!(
        text.contains("abandoned (smoke test `bash -c echo 'GET / -> 500'; exit 4` exited with status 4; its output ended: GET / -> 500); blue still serves all traffic"),
        "{text}"
    );
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
    assert_eq!(fake.route(), None);
    assert_eq!(
        fake.timeline()[5..],
        [
            "start green v2",
            "open-route green",
            "close-route",
            "retire green",
            "revert green"
        ]
    );
}

#[tokio::test]
async fn ctrl_c_during_the_smoke_test_abandons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let smoke = smoke_test("sleep 600", dir.path());
    let cancel = smoke.cancel.clone();
    let release = fake.release("v2", &smoke);
    let interrupt = async {
        // Once the smoke test runs (the route is open), press Ctrl-C.
        while fake.route().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
    };
    let (error, ()) = tokio::join!(release, interrupt);
    let error = error.expect_err("interrupted");
    assert!(
        error
            .to_string()
            .contains("abandoned (interrupted during the smoke test; it printed nothing)"),
        "{error}"
    );
    assert_eq!(fake.route(), None);
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
}

/// Whatever stops a rollout before the switch, the test route is gone afterwards, also one an
/// earlier, killed rollout left.
#[tokio::test]
async fn every_abandon_closes_the_test_route() {
    for failing in [
        "start green",
        "health",
        "open-route",
        "shift 10% green",
        "close-route",
        "shift green",
    ] {
        let fake = FakePlatform::default();
        fake.release("v1", &canary()).await.expect("v1");
        *fake.route.lock().expect("lock") = Some(Color::Green);
        let fake = FakePlatform {
            failing: vec![failing],
            ..fake
        };
        let error = fake.release("v2", &canary()).await.expect_err(failing);
        let text = error.to_string();
        assert!(
            text.contains("blue still serves all traffic"),
            "{failing}: {text}"
        );
        assert_eq!(
            *fake.live.lock().expect("lock"),
            Some(Color::Blue),
            "{failing}"
        );
        let timeline = fake.timeline();
        if failing == "close-route" {
            assert!(
                text.contains("abandoned (close-route failed; while undoing it: could not remove the test route: close-route failed)"),
                "{text}"
            );
            assert!(
                !timeline.contains(&"shift green".to_owned()),
                "{timeline:?}"
            );
        } else {
            assert_eq!(fake.route(), None, "{failing}: {timeline:?}");
            let closed = timeline.iter().rposition(|call| call == "close-route");
            let retired = timeline.iter().rposition(|call| call == "retire green");
            assert!(
                closed < retired && closed.is_some(),
                "{failing}: {timeline:?}"
            );
        }
        if failing == "open-route" {
            assert!(
                text.contains("abandoned (could not open the test route: open-route green failed)"),
                "{text}"
            );
        }
    }
}

/// Blue live with v1, as after a first release, with `failing` calls failing from now on.
fn blue_live_with(failing: Vec<&'static str>, flaky: &str) -> FakePlatform {
    FakePlatform {
        live: Mutex::new(Some(Color::Blue)),
        releases: Mutex::new(HashMap::from([(Color::Blue, "v1".to_owned())])),
        running: Mutex::new(HashMap::from([(Color::Blue, true)])),
        flaky: vec![flaky.to_owned()],
        failing,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_canary_whose_traffic_cannot_be_moved_back_needs_attention() {
    let fake = blue_live_with(vec!["shift blue"], "flaky");
    let error = fake.release("flaky", &canary()).await.expect_err("stuck");
    assert!(matches!(error, RolloutError::UndoFailed { .. }), "{error}");
    assert_eq!(error.aftermath(), Aftermath::NeedsAttention);
    assert!(
        error.to_string().contains(
            "rollout to green failed (canary at 10%: it turned unhealthy) and traffic could not be moved back to blue"
        ),
        "{error}"
    );
    // Green keeps its share and its capacity: scaling it down would drop those requests.
    assert!(!fake.calls().iter().any(|call| call == "retire green"));
}

#[tokio::test]
async fn a_bake_whose_switch_back_fails_needs_attention() {
    let fake = blue_live_with(vec!["shift blue"], "flaky");
    let error = fake.release("flaky", &options()).await.expect_err("stuck");
    assert!(
        matches!(&error, RolloutError::UndoFailed { reason, .. } if reason == "it turned unhealthy while baking"),
        "{error}"
    );
    assert_eq!(error.aftermath(), Aftermath::NeedsAttention);
}

#[tokio::test]
async fn rollback_removes_a_test_route_a_killed_deploy_left() {
    let fake = FakePlatform::default();
    for release in ["v1", "v2"] {
        fake.release(release, &options()).await.expect(release);
    }
    // What a deploy killed while checking v3 on blue leaves behind.
    *fake.route.lock().expect("lock") = Some(Color::Blue);
    fake.roll_back().await.expect("rollback");
    assert_eq!(*fake.route.lock().expect("lock"), None);
    assert_eq!(
        fake.timeline().last().map(String::as_str),
        Some("retire green")
    );
    assert!(fake.timeline().contains(&"close-route".to_owned()));
}

fn judged(options: RolloutOptions) -> RolloutOptions {
    RolloutOptions {
        judge: Some(Thresholds {
            max_5xx_rate: Some(1.0),
            max_5xx_increase: None,
            max_p99: Some(Duration::from_millis(500)),
            max_p99_increase: None,
            min_requests: 20,
        }),
        ..options
    }
}

/// Blue live on v1, which answers well; `v2-errors` answers 30% 5xx, `v2-quiet` has too few
/// requests to judge, `v2-good` answers as well as v1.
fn measured() -> FakePlatform {
    let readings = |requests, errors| Readings {
        requests,
        errors,
        p99: Some(Duration::from_millis(80)),
    };
    FakePlatform {
        metrics: HashMap::from([
            ("v1".to_owned(), readings(1000, 1)),
            ("v2-errors".to_owned(), readings(100, 30)),
            ("v2-quiet".to_owned(), readings(3, 3)),
            ("v2-good".to_owned(), readings(100, 0)),
        ]),
        ..FakePlatform::default()
    }
}

#[tokio::test]
async fn a_canary_that_breaks_a_judge_limit_is_abandoned_naming_the_metric() {
    let fake = measured();
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step);
    let error = deploy(
        &fake,
        "portal",
        &"v2-errors".to_owned(),
        &judged(canary()),
        &record,
    )
    .await
    .expect_err("abandoned");
    assert_eq!(
        error.to_string(),
        "portal: rollout to green abandoned (canary at 10%: 5xx rate of green is 30% (30 of 100 \
         requests), above max_5xx_rate 1% (blue: 0.1%)); blue still serves all traffic"
    );
    assert_eq!(error.aftermath(), Aftermath::Reverted);
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
    let steps = steps.into_inner().expect("lock");
    let judgement = steps
        .iter()
        .find(|step| matches!(step, Step::Judged { .. }))
        .expect("judged");
    let Step::Judged {
        color,
        readings,
        live,
        live_readings,
        verdict,
    } = judgement
    else {
        unreachable!()
    };
    assert_eq!((*color, *live), (Color::Green, Some(Color::Blue)));
    assert_eq!(readings.map(|r| r.errors), Some(30));
    assert_eq!(live_readings.map(|r| r.requests), Some(1000));
    assert!(matches!(
        verdict,
        Verdict::Breach {
            metric: Metric::ErrorRate,
            ..
        }
    ));
    assert!(
        judgement.to_string().starts_with(
            "judged green (100 requests, 5xx 30%, p99 80ms) against blue (1000 requests, 5xx 0.1%, p99 80ms): breach: 5xx rate"
        ),
        "{judgement}"
    );
    // The judgement travels as one JSON object with the readings (`--output jsonl`).
    let json = serde_json::to_value(judgement).expect("json");
    assert_eq!(json["step"], "judged");
    assert_eq!(json["readings"]["errors_5xx"], 30);
    assert_eq!(json["verdict"]["verdict"], "breach");
    assert_eq!(json["verdict"]["metric"], "5xx_rate");
}

#[tokio::test]
async fn a_bake_that_breaks_a_judge_limit_is_rolled_back_saying_why() {
    let fake = measured();
    fake.release("v1", &options()).await.expect("v1");
    let error = fake
        .release("v2-errors", &judged(options()))
        .await
        .expect_err("rolled back");
    assert!(matches!(error, RolloutError::RolledBack { .. }), "{error}");
    assert!(
        error.to_string().starts_with(
            "portal: green failed its judgement while baking: 5xx rate of green is 30%"
        ),
        "{error}"
    );
    assert!(
        error.to_string().ends_with("; traffic is back on blue"),
        "{error}"
    );
    assert_eq!(*fake.live.lock().expect("lock"), Some(Color::Blue));
}

#[tokio::test]
async fn a_release_within_the_limits_or_too_quiet_to_judge_goes_through() {
    for release in ["v2-good", "v2-quiet"] {
        let fake = measured();
        fake.release("v1", &options()).await.expect("v1");
        let steps = Mutex::new(Vec::new());
        let record = |step: Step| steps.lock().expect("lock").push(step);
        deploy(
            &fake,
            "portal",
            &release.to_owned(),
            &judged(canary()),
            &record,
        )
        .await
        .expect(release);
        let verdicts: Vec<Verdict> = steps
            .into_inner()
            .expect("lock")
            .into_iter()
            .filter_map(|step| match step {
                Step::Judged { verdict, .. } => Some(verdict),
                _ => None,
            })
            .collect();
        // Each canary step and the bake judged at least once (at its end).
        assert!(verdicts.len() >= 3, "{release}: {verdicts:?}");
        for verdict in verdicts {
            match release {
                "v2-good" => assert_eq!(verdict, Verdict::Pass),
                _ => assert!(
                    matches!(&verdict, Verdict::NoVerdict { reason } if reason.contains("fewer than min_requests 20")),
                    "{verdict:?}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn metrics_that_cannot_be_read_give_no_verdict_and_the_release_goes_on() {
    let fake = FakePlatform {
        failing: vec!["readings"],
        ..measured()
    };
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step.to_string());
    deploy(
        &fake,
        "portal",
        &"v2-errors".to_owned(),
        &judged(options()),
        &record,
    )
    .await
    .expect("not judged, not stopped");
    let steps = steps.into_inner().expect("lock");
    assert!(
        steps.iter().any(|step| step
            .ends_with("no verdict (could not read the metrics: GetMetricData: throttled)")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn without_judge_limits_no_metrics_are_read() {
    let fake = FakePlatform {
        failing: vec!["readings"],
        ..measured()
    };
    fake.release("v1", &options()).await.expect("v1");
    let steps = Mutex::new(Vec::new());
    let record = |step: Step| steps.lock().expect("lock").push(step);
    deploy(&fake, "portal", &"v2-errors".to_owned(), &canary(), &record)
        .await
        .expect("released");
    assert!(
        !steps
            .into_inner()
            .expect("lock")
            .iter()
            .any(|step| matches!(step, Step::Judged { .. }))
    );
}
