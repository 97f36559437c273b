//! The rollout state machine against a fake platform that records every call.

mod fake;
mod resume;

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use fake::*;

/// The calls of a first release, v1, going live on blue.
const FIRST_RELEASE: [&str; 3] = ["start blue v1", "shift blue", "scale-on blue"];

/// The calls rolling portal back from green to blue makes.
const BACK_TO_BLUE: [&str; 4] = [
    "restore blue",
    "shift blue",
    "scale-on blue",
    "retire green",
];

/// `error` says `part` somewhere; a failure shows the whole text.
#[track_caller]
fn assert_mentions(error: &impl std::fmt::Display, part: &str) {
    let text = error.to_string();
    assert!(text.contains(part), "{part:?} not in {text:?}");
}

/// After a failed release over v1, blue still serves, and the calls since v1's are `calls`.
#[track_caller]
fn assert_blue_still_live(fake: &FakePlatform, calls: &[&str]) {
    assert_eq!(fake.live(), Some(Color::Blue));
    assert_eq!(fake.calls()[FIRST_RELEASE.len()..], *calls);
}

/// Releases v1 on `fake` (live on blue afterwards), then `release` with `options`, which must
/// fail. The health checks count afresh for `release`, so a flaky one passes its first two.
async fn failed_release_over_v1(
    fake: &FakePlatform,
    release: &str,
    options: &RolloutOptions,
) -> RolloutError {
    fake.release("v1", &fake::options()).await.expect("v1");
    *fake.checks.lock().expect("lock") = 0;
    fake.release(release, options).await.expect_err(release)
}

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
    assert_eq!(fake.calls(), FIRST_RELEASE);
}

#[tokio::test]
async fn deploy_switches_to_the_idle_color_then_retires_the_old_one() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    let (reached, steps) = fake.release_reporting("v2", &options()).await;
    let Reached::Live(outcome) = reached.expect("v2") else {
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
        steps.iter().map(Step::to_string).collect::<Vec<_>>(),
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
    assert_eq!(fake.calls()[7..], BACK_TO_BLUE);
}

#[tokio::test]
async fn nothing_is_retired_before_the_router_reports_the_switch() {
    let fake = FakePlatform {
        traffic_lag: 3,
        ..FakePlatform::default()
    };
    fake.release("v1", &options()).await.expect("v1");
    let (reached, steps) = fake.release_reporting("v2", &options()).await;
    reached.expect("v2");
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
    assert_mentions(
        &error,
        "traffic was set to blue 100% / green 0%, but after 50ms the router still reports no traffic",
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
    let fake = FakePlatform::never_healthy("bad");
    let error = failed_release_over_v1(&fake, "bad", &options()).await;
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
    assert_mentions(&error, "blue still serves all traffic");
    assert_blue_still_live(&fake, &["start green bad", "retire green", "revert green"]);
}

#[tokio::test]
async fn a_release_that_fails_while_baking_is_rolled_back() {
    let fake = FakePlatform::turning_unhealthy("flaky");
    let error = failed_release_over_v1(&fake, "flaky", &options()).await;
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
    assert_blue_still_live(
        &fake,
        &[
            "start green flaky",
            "shift green",
            "scale-on green",
            "shift blue",
            "scale-on blue",
            "retire green",
            "revert green",
        ],
    );
}

#[tokio::test]
async fn rollback_restores_the_previous_color_first() {
    let fake = FakePlatform::default();
    fake.release("v1", &options()).await.expect("v1");
    fake.release("v2", &options()).await.expect("v2");
    let outcome = fake.roll_back().await.expect("rollback");
    assert_eq!(outcome.to, Color::Blue);
    assert_eq!(fake.calls()[7..], BACK_TO_BLUE);
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
    let fake = FakePlatform::never_healthy("bad");
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
    let fake = FakePlatform::turning_unhealthy("flaky");
    let error = failed_release_over_v1(&fake, "flaky", &canary()).await;
    assert!(matches!(error, RolloutError::Abandoned { .. }), "{error}");
    assert_mentions(&error, "canary at 10%: it turned unhealthy");
    assert_blue_still_live(
        &fake,
        &[
            "start green flaky",
            "shift 10% green",
            "shift blue",
            "retire green",
            "revert green",
        ],
    );
}

#[tokio::test]
async fn an_interrupted_rollout_leaves_the_live_color() {
    let fake = FakePlatform::never_healthy("slow");
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
    assert_mentions(
        &error,
        "abandoned (interrupted); blue still serves all traffic",
    );
    assert_blue_still_live(&fake, &["start green slow", "retire green", "revert green"]);
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
        let fake = fake.then_failing(vec![failing]);
        let error = fake.release("v2", &canary()).await.expect_err(failing);
        assert_eq!(fake.live(), Some(live_after), "failing {failing}: {error}");
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
    assert_eq!(fake.calls(), FIRST_RELEASE, "nothing was touched");
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
    let fake = fake.then_failing(vec!["start green", "revert green"]);
    let error = fake
        .release("v2", &options())
        .await
        .expect_err("cannot start");
    assert_mentions(
        &error,
        "abandoned (start green v2 failed; while undoing it: could not restore green's previous release: revert green failed)",
    );
    assert!(
        error.to_string().ends_with("blue still serves all traffic"),
        "{error}"
    );
    assert_eq!(fake.live(), Some(Color::Blue));
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
    assert_mentions(&error, "abandoned (health check API failed: throttled)");
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
    let smoke = smoke_test(
        r#"echo "$DASHCTL_TEST_URL|$DASHCTL_TEST_HEADER|$DASHCTL_SERVICE|$DASHCTL_COLOR" > told"#,
        dir.path(),
    );
    let (reached, steps) = fake.release_reporting("v2", &smoke).await;
    reached.expect("v2");
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
    assert_eq!(
        steps[1..4].iter().map(Step::to_string).collect::<Vec<_>>(),
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
    let smoke = smoke_test("echo 'GET / -> 500'; exit 4", dir.path());
    let error = failed_release_over_v1(&fake, "v2", &smoke).await;
    assert_mentions(
        &error,
        "abandoned (smoke test `bash -c echo 'GET / -> 500'; exit 4` exited with status 4; its output ended: GET / -> 500); blue still serves all traffic",
    );
    assert_eq!(fake.live(), Some(Color::Blue));
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
    assert_mentions(
        &error,
        "abandoned (interrupted during the smoke test; it printed nothing)",
    );
    assert_eq!(fake.route(), None);
    assert_eq!(fake.live(), Some(Color::Blue));
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
        let fake = fake.then_failing(vec![failing]);
        let error = fake.release("v2", &canary()).await.expect_err(failing);
        let text = error.to_string();
        assert!(
            text.contains("blue still serves all traffic"),
            "{failing}: {text}"
        );
        assert_eq!(fake.live(), Some(Color::Blue), "{failing}");
        let timeline = fake.timeline();
        if failing == "close-route" {
            assert_mentions(
                &text,
                "abandoned (close-route failed; while undoing it: could not remove the test route: close-route failed)",
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
            assert_mentions(
                &text,
                "abandoned (could not open the test route: open-route green failed)",
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
    assert_mentions(
        &error,
        "rollout to green failed (canary at 10%: it turned unhealthy) and traffic could not be moved back to blue",
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
    let (reached, steps) = fake.release_reporting("v2-errors", &judged(canary())).await;
    let error = reached.expect_err("abandoned");
    assert_eq!(
        error.to_string(),
        "portal: rollout to green abandoned (canary at 10%: 5xx rate of green is 30% (30 of 100 \
         requests), above max_5xx_rate 1% (blue: 0.1%)); blue still serves all traffic"
    );
    assert_eq!(error.aftermath(), Aftermath::Reverted);
    assert_eq!(fake.live(), Some(Color::Blue));
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
    let error = failed_release_over_v1(&fake, "v2-errors", &judged(options())).await;
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
    assert_eq!(fake.live(), Some(Color::Blue));
}

#[tokio::test]
async fn a_release_within_the_limits_or_too_quiet_to_judge_goes_through() {
    for release in ["v2-good", "v2-quiet"] {
        let fake = measured();
        fake.release("v1", &options()).await.expect("v1");
        let (reached, steps) = fake.release_reporting(release, &judged(canary())).await;
        reached.expect(release);
        let verdicts: Vec<Verdict> = steps
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
    let fake = measured().then_failing(vec!["readings"]);
    fake.release("v1", &options()).await.expect("v1");
    let (reached, steps) = fake
        .release_reporting("v2-errors", &judged(options()))
        .await;
    reached.expect("not judged, not stopped");
    assert!(
        steps.iter().any(|step| step
            .to_string()
            .ends_with("no verdict (could not read the metrics: GetMetricData: throttled)")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn without_judge_limits_no_metrics_are_read() {
    let fake = measured().then_failing(vec!["readings"]);
    fake.release("v1", &options()).await.expect("v1");
    let (reached, steps) = fake.release_reporting("v2-errors", &canary()).await;
    reached.expect("released");
    assert!(
        !steps.iter().any(|step| matches!(step, Step::Judged { .. })),
        "{steps:?}"
    );
}

#[tokio::test]
async fn deploying_several_goes_one_after_another_and_starts_none_once_cancelled() {
    let fake = FakePlatform::default();
    let reported = Mutex::new(Vec::new());
    let record = |service: &str, step: Step| {
        if matches!(step, Step::Start { .. }) {
            reported.lock().expect("lock").push(service.to_owned());
        }
    };
    let mut live = Vec::new();
    let releases = [("portal", "v1"), ("hardware", "v1")]
        .map(|(service, release)| (service.to_owned(), release.to_owned()));
    deploy_all(
        &fake,
        releases,
        |_| options(),
        &record,
        |reached| {
            live.push(reached.service().to_owned());
        },
    )
    .await
    .expect("both deploy");
    assert_eq!(live, ["portal", "hardware"]);
    assert_eq!(*reported.lock().expect("lock"), ["portal", "hardware"]);

    let calls_before = fake.calls().len();
    let cancelled = options();
    cancelled.cancel.cancel();
    let error = deploy_all(
        &fake,
        [("portal".to_owned(), "v2".to_owned())],
        |_| cancelled.clone(),
        &record,
        |_| panic!("nothing is reached"),
    )
    .await
    .expect_err("cancelled");
    assert!(
        matches!(&error, RolloutError::Interrupted { service } if service == "portal"),
        "{error}"
    );
    assert_eq!(error.aftermath(), Aftermath::Failed);
    assert_eq!(fake.calls().len(), calls_before, "nothing was started");
}
