//! Rollouts that survive the operator's machine, on AWS (the double): every stage is journaled
//! in the rollout lock, so a dashctl killed at any stage leaves a rollout that `rollout resume`
//! finishes and `rollout abort` undoes; `--wait-until` stops one on purpose.

use std::time::Duration;

use crate::aws_clients::Aws;
use crate::aws_fixture::{Deployed, Spec};
use crate::harness::{Ran, service};

/// portal with two short canary steps and a bake long enough to be killed in.
const CANARY: &str = "deploy: { strategy: canary, canary: [10%, 4s], bake: 6s, auto_rollback: true, health_timeout: 20s }";

fn spec() -> Spec {
    Spec::dashboard(CANARY)
}

/// The public listener's weights, blue's first: (blue, green).
async fn weights(aws: &Aws) -> (i32, i32) {
    let listeners = aws.listeners("dashboard-prod-public").await;
    let weights = aws.forward_weights(&listeners[0]).await;
    let of = |color: &str| {
        weights
            .iter()
            .find(|(name, _)| name.ends_with(color))
            .map_or(-1, |(_, weight)| *weight)
    };
    (of("-blue"), of("-green"))
}

fn live_color(deployed: &Deployed) -> String {
    service(&deployed.status(), "portal")["live_color"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn desired(deployed: &Deployed, color: &str) -> i64 {
    service(&deployed.status(), "portal")["colors"]
        .as_array()
        .and_then(|all| all.iter().find(|found| found["color"] == color))
        .and_then(|found| found["desired"].as_i64())
        .unwrap_or(-1)
}

/// Starts `deploy --output jsonl` of portal's `image`, waits for its first rollout step of
/// this kind (`wait_healthy`, `canary`, `bake`...), then kills dashctl with SIGKILL: nothing
/// of it runs after.
fn release_killed_at(deployed: &Deployed, image: &str, step: &str) {
    let mut running = deployed
        .run(&[
            "deploy",
            "--env",
            "aws",
            "--output",
            "jsonl",
            "--image",
            &format!("portal={image}"),
        ])
        .spawn();
    let lines = running.stdout_lines();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| panic!("no `{step}` step"));
        let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if event["step"]["step"] == step {
            break;
        }
    }
    running.kill_hard();
}

/// `rollout <verb> --env aws --break-lock` (the killed run's lease is still on the lock),
/// which succeeds.
fn finish_killed_rollout(deployed: &Deployed, verb: &str) -> Ran {
    deployed
        .run(&["rollout", verb, "--env", "aws", "--break-lock"])
        .succeeds()
}

/// All of portal's traffic is on `color`, and the other color is scaled to nothing.
async fn assert_all_on(deployed: &Deployed, aws: &Aws, color: &str) {
    let (weights_on_it, other) = match color {
        "blue" => ((100, 0), "green"),
        _ => ((0, 100), "blue"),
    };
    assert_eq!(weights(aws).await, weights_on_it, "all traffic on {color}");
    assert_eq!(desired(deployed, other), 0, "{other} scaled down");
}

/// `rollout status --env aws --output json`.
fn rollout_status(deployed: &Deployed) -> serde_json::Value {
    deployed
        .run(&["rollout", "status", "--env", "aws", "--output", "json"])
        .succeeds()
        .json()
}

#[tokio::test]
async fn a_dashctl_killed_at_each_stage_leaves_a_rollout_that_resume_or_abort_finishes() {
    let deployed = Deployed::new(spec());
    let aws = Aws::new(&deployed.moto).await;
    assert_eq!(weights(&aws).await, (100, 0));

    // Killed while green starts (journaled `started`): the lease still runs, so resume and
    // abort refuse until it is broken; abort then puts everything back.
    release_killed_at(&deployed, "example/portal:v2", "wait_healthy");
    let status = rollout_status(&deployed);
    assert_eq!(status["rollout"]["stage"], "started", "{status}");
    assert_eq!(status["rollout"]["target"], "green");
    assert_eq!(status["rollout"]["paused"], false);
    assert!(status["lease_seconds_left"].as_u64() > Some(0), "{status}");
    deployed
        .run(&["rollout", "status", "--env", "aws"])
        .succeeds()
        .stdout_contains("rollout in progress: deploy by")
        .stdout_contains("portal: blue -> green (example/portal:v2), at started");
    deployed
        .run(&["rollout", "abort", "--env", "aws"])
        .exits(1)
        .contains("is in progress: deploy by");
    deployed
        .run(&["deploy", "--env", "aws", "--break-lock", "--image", "portal=example/portal:v9"])
        .exits(2)
        .contains("portal: rollout blue -> green stopped at started; blue serves all traffic")
        .contains("`dashctl rollout resume` continues it, `dashctl rollout abort` puts traffic back on blue");
    deployed
        .run(&["rollout", "abort", "--env", "aws"])
        .succeeds()
        .contains("portal: rollout to green aborted; blue serves all traffic");
    assert_all_on(&deployed, &aws, "blue").await;
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);
    deployed
        .run(&["rollout", "abort", "--env", "aws"])
        .exits(2)
        .contains("no rollout of dashboard (prod) is unfinished: there is nothing to abort");

    // Killed in the canary step (journaled `canary 10%`): resume sets its weights again and
    // goes on from there.
    release_killed_at(&deployed, "example/portal:v3", "canary");
    let status = rollout_status(&deployed);
    assert_eq!(status["rollout"]["stage"], "canary", "{status}");
    assert_eq!(status["rollout"]["percent"], 10, "{status}");
    // The kill may land before the step's weights, between the listener taking them and the
    // traffic record, or after both. The middle case is set up here for certain: the listener
    // at the step's 90/10 while the record still says what came before. That split is the
    // journaled stage's own doing, so resume goes on; a split the stage never sets is someone
    // else's, and resume refuses it.
    let listener = aws.listeners("dashboard-prod-public").await.remove(0);
    let set_weights = |blue: i32, green: i32| {
        let (aws, listener) = (&aws, &listener);
        async move {
            let weights = [
                ("dashboard-prod-portal-blue", blue),
                ("dashboard-prod-portal-green", green),
            ];
            aws.set_forward_weights(listener, &weights).await;
        }
    };
    set_weights(70, 30).await;
    deployed
        .run(&["rollout", "resume", "--env", "aws", "--break-lock"])
        .exits(2)
        .contains("ended the lease on the rollout lock /dashctl/dashboard/prod/rollout-lock (--break-lock); the unfinished rollout it journals stays")
        .contains("refusing to resume: portal sends blue 70% / green 30%, but dashctl last set");
    set_weights(90, 10).await;
    finish_killed_rollout(&deployed, "resume")
        .contains("resuming from canary 10%")
        .contains("portal: live on green (was blue)");
    assert_eq!(weights(&aws).await, (0, 100));
    assert_eq!(live_color(&deployed), "green");
    assert_eq!(desired(&deployed, "blue"), 0);
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);

    // Killed while baking (journaled `switched`: blue took all traffic, green is still up):
    // abort switches back to green.
    release_killed_at(&deployed, "example/portal:v4", "bake");
    assert_eq!(weights(&aws).await, (100, 0));
    assert_eq!(rollout_status(&deployed)["rollout"]["stage"], "switched");
    finish_killed_rollout(&deployed, "abort")
        .contains("rolling back to green")
        .contains("portal: rollout to blue aborted; green serves all traffic");
    assert_all_on(&deployed, &aws, "green").await;
    // Blue's release is v3's predecessor again, so a rollback still returns to it.
    assert_eq!(live_color(&deployed), "green");
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);
}

#[tokio::test]
async fn wait_until_stops_a_release_for_ci_and_resume_or_abort_ends_it() {
    let deployed = Deployed::new(spec());
    let aws = Aws::new(&deployed.moto).await;

    // Healthy: green up and reachable through its test route, no production traffic.
    let image = ["--image", "portal=example/portal:v2"];
    let mut wait = vec!["deploy", "--env", "aws", "--wait-until", "healthy"];
    wait.extend(image);
    deployed
        .run(&wait)
        .succeeds()
        .contains("portal: rollout blue -> green paused at healthy; blue serves all traffic");
    assert_eq!(weights(&aws).await, (100, 0));
    let status = rollout_status(&deployed);
    assert_eq!(status["rollout"]["stage"], "healthy");
    assert_eq!(status["rollout"]["paused"], true);
    assert_eq!(
        status["lease_seconds_left"], 0,
        "a paused rollout holds no lease"
    );
    deployed
        .run(&["status", "--env", "aws"])
        .succeeds()
        .contains("paused at healthy");
    // Nothing else changes these colors meanwhile.
    deployed
        .run(&["rollback", "--env", "aws"])
        .exits(2)
        .contains("`dashctl rollout resume` continues it");

    // Further, to `switched`: green takes all traffic and blue stays up.
    deployed
        .run(&[
            "rollout",
            "resume",
            "--env",
            "aws",
            "--wait-until",
            "switched",
        ])
        .succeeds()
        .contains("paused at switched; green serves all traffic, blue is still up");
    assert_eq!(weights(&aws).await, (0, 100));
    assert!(desired(&deployed, "blue") > 0);

    // Abort is one switch back.
    deployed
        .run(&["rollout", "abort", "--env", "aws", "--output", "jsonl"])
        .succeeds()
        .stdout_contains(r#""event":"aborted""#);
    assert_all_on(&deployed, &aws, "blue").await;

    // To `baked`, then resumed to the end.
    let mut wait = vec!["deploy", "--env", "aws", "--wait-until", "baked"];
    wait.extend(["--image", "portal=example/portal:v3"]);
    deployed.run(&wait).succeeds().contains("paused at baked");
    deployed
        .run(&["rollout", "resume", "--env", "aws"])
        .succeeds()
        .contains("draining and retiring blue")
        .contains("portal: live on green (was blue)");
    assert_all_on(&deployed, &aws, "green").await;
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);
    deployed
        .run(&["rollout", "status", "--env", "aws"])
        .succeeds()
        .contains("no rollout is running or unfinished");
}

/// A release killed at a step, and the verb that finishes what it left.
struct Killed {
    image: &'static str,
    at_step: &'static str,
    /// The stage journaled, and the listener's weights (blue, green), once it is killed.
    stage: &'static str,
    weights: (i32, i32),
    verb: &'static str,
    says: &'static [&'static str],
    /// The color with all traffic afterwards.
    all_on: &'static str,
}

#[tokio::test]
async fn what_one_killed_run_leaves_the_other_verb_finishes_too() {
    let deployed = Deployed::new(spec());
    let aws = Aws::new(&deployed.moto).await;

    for killed in [
        // While green starts: resume waits for it and goes on to the end.
        Killed {
            image: "example/portal:v2",
            at_step: "wait_healthy",
            stage: "started",
            weights: (100, 0),
            verb: "resume",
            says: &["resuming from started", "portal: live on green (was blue)"],
            all_on: "green",
        },
        // In a canary step: abort puts all traffic back on green, wherever the step left it.
        Killed {
            image: "example/portal:v3",
            at_step: "traffic_confirmed",
            stage: "canary",
            weights: (10, 90),
            verb: "abort",
            says: &["portal: rollout to blue aborted; green serves all traffic"],
            all_on: "green",
        },
        // While baking: resume bakes again and retires the old color.
        Killed {
            image: "example/portal:v4",
            at_step: "bake",
            stage: "switched",
            weights: (100, 0),
            verb: "resume",
            says: &["baking blue for 6s", "portal: live on blue (was green)"],
            all_on: "blue",
        },
    ] {
        let at = killed.at_step;
        release_killed_at(&deployed, killed.image, at);
        let status = rollout_status(&deployed);
        assert_eq!(status["rollout"]["stage"], killed.stage, "{at}: {status}");
        assert_eq!(weights(&aws).await, killed.weights, "{at}");
        let finished = finish_killed_rollout(&deployed, killed.verb);
        for said in killed.says {
            finished.contains(said);
        }
        assert_all_on(&deployed, &aws, killed.all_on).await;
    }
    assert_eq!(aws.rollout_lock("dashboard", "prod").await, None);
    // The release that was aborted is not what a rollback returns to: green runs v2.
    deployed
        .run(&["rollback", "--env", "aws"])
        .succeeds()
        .contains("portal: live on green (was blue)");
    let portal = service(&deployed.status(), "portal").clone();
    let green = portal["colors"]
        .as_array()
        .and_then(|all| all.iter().find(|found| found["color"] == "green"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(green["image"], "example/portal:v2", "{portal}");
}
