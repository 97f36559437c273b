//! Local blue/green through the shared rollout engine: deploy, failed deploy, rollback, their
//! JSON lines and exit codes, and a client that goes away mid-rollout.

use std::time::Duration;

use serde_json::json;

use crate::harness::{DashboardSpec, Up, Workspace, page, service};
use crate::smoke_test::{SmokeTest, assert_told_green};

/// `dashctl up` running the dashboard with portal's `deploy:` policy, and a new release of
/// portal (other arguments) written to the spec, not yet deployed.
async fn up_with_a_new_portal(portal_deploy: &'static str) -> (DashboardSpec, Workspace, Up) {
    let mut spec = DashboardSpec {
        portal_deploy,
        ..DashboardSpec::default()
    };
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;
    spec.portal_args = vec!["--stale-after".into(), "30".into()];
    workspace.write(&spec);
    (spec, workspace, up)
}

#[tokio::test]
async fn deploy_switches_colors_a_broken_release_never_goes_live_and_rollback_returns() {
    let mut spec = DashboardSpec::default();
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;

    // Nothing changed: deploying everything is a no-op.
    workspace
        .run("deploy", &[])
        .succeeds()
        .stdout_contains("nothing to deploy");

    // Nothing deployed since `up`: rolling everything back skips each service and succeeds;
    // rolling back one of them fails.
    workspace
        .run("rollback", &[])
        .succeeds()
        .stdout_contains("portal: nothing to roll back to (green has no earlier release)")
        .stdout_contains("hardware: nothing to roll back to (green has no earlier release)")
        .stdout_contains("nothing to roll back\n");
    workspace
        .run("rollback", &["--service", "portal"])
        .exits(1)
        .contains("error: portal: nothing to roll back to");

    // A new release of portal goes to green, which takes the traffic.
    spec.portal_args = vec!["--stale-after".into(), "30".into()];
    workspace.write(&spec);
    let deploy = workspace
        .run("deploy", &[])
        .also_printing(&up.log)
        .succeeds();
    for step in [
        "portal: starting green",
        "portal: switching traffic to green",
        "portal: draining and retiring blue",
        "portal: live on green (was blue)",
        "hardware: unchanged",
    ] {
        deploy.contains(step);
    }
    let status = workspace.status();
    let portal = service(&status, "portal");
    assert_eq!(portal["live_color"], "green");
    let instances = portal["instances"].as_array().expect("instances");
    assert!(
        instances
            .iter()
            .all(|instance| instance["color"] == "green"),
        "blue was retired: {portal}"
    );
    assert!(page(&workspace.portal_url()).await.is_some());

    // A release that cannot start never receives traffic: green stays live.
    spec.portal_args = vec!["--no-such-flag".into()];
    workspace.write(&spec);
    workspace
        .run("deploy", &["--service", "portal"])
        .exits(3)
        .contains("blue did not become healthy")
        .contains("green still serves all traffic");
    assert_eq!(
        service(&workspace.status(), "portal")["live_color"],
        "green"
    );
    assert!(page(&workspace.portal_url()).await.is_some());

    // Rollback: the previous good release (blue, first version) comes back and goes live.
    workspace
        .run("rollback", &["--service", "portal"])
        .succeeds()
        .stdout_contains("portal: live on blue (was green)");
    up.wait_until("blue serves the dashboard", Duration::from_secs(10), || {
        let url = workspace.portal_url();
        async move { page(&url).await.is_some() }
    })
    .await;
    let portal = service(&workspace.status(), "portal").clone();
    assert_eq!(portal["live_color"], "blue");
    assert!(
        portal["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .all(|instance| instance["color"] == "blue")
    );

    // Usage errors exit 2 without touching anything.
    workspace.run("rollback", &["--service", "nope"]).exits(2);
    workspace
        .run("rollback", &["--accept-live-traffic"])
        .exits(2)
        .contains("apply to AWS rollbacks");
}

#[tokio::test]
async fn a_local_canary_shares_requests_between_colors_before_the_switch() {
    let (_, workspace, up) = up_with_a_new_portal(
        "{ strategy: canary, canary: [50%, 4s], bake: 0s, health_timeout: 15s }",
    )
    .await;
    let deploy = workspace.run("deploy", &["--env", "local"]).spawn();

    up.wait_for_status(&workspace, "the canary step starts", |status| {
        service(status, "portal")["canary"] == serde_json::json!(["green", 50])
    })
    .await;
    let before = workspace.status();
    for _ in 0..40 {
        assert!(page(&workspace.portal_url()).await.is_some());
    }
    let after = workspace.status();
    let served = requests_served;
    let blue = served(&after, "blue") - served(&before, "blue");
    let green = served(&after, "green") - served(&before, "green");
    assert!(
        blue >= 10 && green >= 10,
        "both colors serve during a 50% canary: blue {blue}, green {green}"
    );

    deploy
        .succeeds()
        .contains("portal: sending 50% of traffic to green for 4s");
    let portal = service(&workspace.status(), "portal").clone();
    assert_eq!(portal["live_color"], "green");
    assert_eq!(portal["canary"], serde_json::Value::Null);
}

#[tokio::test]
async fn jsonl_shows_each_step_in_order_and_an_abandoned_release_exits_3() {
    let (mut spec, workspace, up) = up_with_a_new_portal("{ bake: 1s, health_timeout: 4s }").await;
    let released = workspace
        .run("deploy", &["--output", "jsonl"])
        .also_printing(&up.log)
        .succeeds();
    assert_eq!(
        released.rollout_steps(),
        [
            "portal start green",
            "portal wait_healthy green",
            "portal test_route green",
            "portal switch green",
            "portal traffic_confirmed blue 0 green 100",
            "portal bake green",
            "portal retire blue",
        ]
    );
    let lines = released.json_lines();
    let position = |wanted: &serde_json::Value| {
        lines
            .iter()
            .position(|line| line == wanted)
            .unwrap_or_else(|| panic!("no {wanted} in {lines:#?}"))
    };
    let live = position(&json!({"event": "live",
        "outcome": {"service": "portal", "from": "blue", "to": "green"}}));
    let retired = position(&json!({"event": "rollout", "service": "portal",
        "step": {"step": "retire", "color": "blue"}}));
    assert!(retired < live, "live once blue is retired: {lines:#?}");
    position(&json!({"event": "unchanged", "service": "hardware"}));
    assert_eq!(
        released.result(),
        json!({"event": "result", "ok": true, "exit_code": 0})
    );

    // A release that never gets healthy is abandoned: exit 3, green still live.
    spec.portal_args = vec!["--no-such-flag".into()];
    workspace.write(&spec);
    let abandoned = workspace
        .run("deploy", &["--service", "portal", "--output", "jsonl"])
        .exits(3);
    assert_eq!(
        abandoned.rollout_steps(),
        [
            "portal start blue",
            "portal wait_healthy blue",
            "portal abandon blue"
        ]
    );
    let result = abandoned.result();
    assert_eq!(
        (&result["ok"], &result["exit_code"], &result["failure"]),
        (&json!(false), &json!(3), &json!("reverted")),
        "{result}"
    );
    assert!(
        result["error"].as_str().is_some_and(|error| error.contains(
            "portal: blue did not become healthy within 4s; green still serves all traffic"
        )),
        "{result}"
    );
    assert!(
        abandoned
            .stderr()
            .contains("error: portal: blue did not become healthy"),
        "the error is on stderr too: {}",
        abandoned.text()
    );
    assert_eq!(
        service(&workspace.status(), "portal")["live_color"],
        "green"
    );

    // A rollback in JSON lines: blue's last good release comes back.
    let rolled = workspace
        .run("rollback", &["--service", "portal", "--output", "jsonl"])
        .succeeds();
    assert_eq!(
        rolled.rollout_steps(),
        [
            "portal start blue",
            "portal wait_healthy blue",
            "portal roll_back blue",
            "portal traffic_confirmed blue 100 green 0",
            "portal retire green",
        ]
    );
    assert!(rolled.json_lines().contains(&json!({"event": "live",
        "outcome": {"service": "portal", "from": "green", "to": "blue"}})));

    // A usage error ends with a result line too.
    let refused = workspace
        .run("deploy", &["--service", "nope", "--output", "jsonl"])
        .exits(2);
    assert_eq!(refused.result()["failure"], "usage");
    assert_eq!(refused.result()["exit_code"], 2);
}

#[tokio::test]
async fn a_client_killed_mid_canary_leaves_the_live_color_serving() {
    let (_, workspace, up) = up_with_a_new_portal(
        "{ strategy: canary, canary: [50%, 5m], bake: 0s, health_timeout: 15s }",
    )
    .await;

    // The steps stream as they happen: the canary's line arrives while it runs.
    let mut deploy = workspace
        .run("deploy", &["--env", "local", "--output", "jsonl"])
        .spawn();
    let lines = deploy.stdout_lines();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no canary step; dashctl up log:\n{}", up.log_text()));
        let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if event["step"]["step"] == "canary" {
            assert_eq!(event["step"]["percent"], 50);
            break;
        }
    }
    assert_eq!(
        service(&workspace.status(), "portal")["canary"],
        json!(["green", 50])
    );

    // The client dies (a killed CI job): `up` abandons the release, as Ctrl-C does on AWS,
    // instead of dropping it half-way with traffic split.
    deploy.kill_hard();
    up.wait_for_status(
        &workspace,
        "the release is abandoned and green is gone",
        |status| {
            let portal = service(status, "portal");
            portal["canary"].is_null()
                && portal["live_color"] == "blue"
                && portal["instances"]
                    .as_array()
                    .is_some_and(|all| all.iter().all(|instance| instance["color"] == "blue"))
        },
    )
    .await;
    up.log_contains("abandoning green");
    assert!(page(&workspace.portal_url()).await.is_some());
    // The rollout let go of its turn: the next one runs.
    workspace
        .run("rollback", &["--service", "portal"])
        .exits(1)
        .contains("portal: nothing to roll back to (green has no earlier release)");
}

/// The ids of `color`'s instances of portal in a status report.
fn instance_ids(status: &serde_json::Value, color: &str) -> Vec<String> {
    service(status, "portal")["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter(|instance| instance["color"] == color)
        .filter_map(|instance| instance["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn keep_previous_makes_a_local_rollback_a_traffic_change_until_its_window_ends() {
    let (mut spec, workspace, up) =
        up_with_a_new_portal("{ bake: 0s, keep_previous: 1h, health_timeout: 15s }").await;
    let blue = instance_ids(&workspace.status(), "blue");
    assert_eq!(blue.len(), 1);

    workspace
        .run("deploy", &["--service", "portal"])
        .also_printing(&up.log)
        .succeeds()
        .contains("portal: keeping blue up for 1h (rolling back until then only moves traffic)")
        .contains("portal: live on green (was blue)");
    let status = workspace.status();
    assert_eq!(instance_ids(&status, "blue"), blue, "blue keeps running");
    let kept = &service(&status, "portal")["kept_warm"];
    assert_eq!(kept[0], "blue");
    assert!(kept[1].as_u64().is_some_and(|left| left > 3000), "{kept}");
    workspace
        .run("status", &["--env", "local"])
        .succeeds()
        .stdout_contains("green (blue warm, ");

    // Rollback inside the window: the same blue instance takes the traffic back at once.
    workspace
        .run("rollback", &["--service", "portal"])
        .succeeds()
        .contains("portal: traffic confirmed: blue 100% / green 0%")
        .stdout_contains("portal: live on blue (was green)");
    let status = workspace.status();
    assert_eq!(service(&status, "portal")["live_color"], "blue");
    assert_eq!(
        instance_ids(&status, "blue"),
        blue,
        "no instance was started"
    );
    assert_eq!(
        service(&status, "portal")["kept_warm"],
        serde_json::Value::Null
    );
    assert!(page(&workspace.portal_url()).await.is_some());

    // A short window: once it ends, `up` retires the previous color with no command run.
    spec.portal_deploy = "{ bake: 0s, keep_previous: 2s, health_timeout: 15s }";
    spec.portal_args = vec!["--stale-after".into(), "31".into()];
    workspace.write(&spec);
    workspace
        .run("deploy", &["--service", "portal"])
        .succeeds()
        .contains("portal: keeping blue up for 2s");
    up.wait_for_status(&workspace, "blue is retired after its window", |status| {
        instance_ids(status, "blue").is_empty()
    })
    .await;
    let status = workspace.status();
    assert_eq!(service(&status, "portal")["live_color"], "green");
    assert_eq!(
        service(&status, "portal")["kept_warm"],
        serde_json::Value::Null
    );
    assert!(page(&workspace.portal_url()).await.is_some());
}

/// Requests `/readyz` through the test route.
const TEST_ROUTE_PROBE: &str = r#"
import urllib.request
name, value = os.environ["DASHCTL_TEST_HEADER"].split(": ", 1)
request = urllib.request.Request(os.environ["DASHCTL_TEST_URL"] + "/readyz", headers={name: value})
with urllib.request.urlopen(request, timeout=10) as response:
    status = response.status
seen = {"status": status}
said = f"GET /readyz with {name}: {value} -> {status}"
"#;

/// How many requests portal's `color` instances have served, by a status report.
fn requests_served(status: &serde_json::Value, color: &str) -> u64 {
    service(status, "portal")["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter(|instance| instance["color"] == color)
        .filter_map(|instance| instance["requests"].as_u64())
        .sum()
}

/// Requests through the proxy, each with `header` if given; how many each color served.
async fn served_by_color(
    workspace: &Workspace,
    header: Option<(&str, &str)>,
    requests: usize,
) -> (u64, u64) {
    let count = requests_served;
    let before = workspace.status();
    let client = reqwest::Client::new();
    for _ in 0..requests {
        let mut request = client.get(format!("{}readyz", workspace.portal_url()));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("request through the proxy");
        assert!(response.status().is_success(), "{response:?}");
    }
    let after = workspace.status();
    (
        count(&after, "blue") - count(&before, "blue"),
        count(&after, "green") - count(&before, "green"),
    )
}

#[tokio::test]
async fn a_smoke_test_reaches_the_new_color_through_its_test_route_before_any_traffic() {
    let (mut spec, workspace, up) = up_with_a_new_portal(
        "{ bake: 0s, health_timeout: 15s, smoke_test: { command: [python3, smoke.py], timeout: 2m } }",
    )
    .await;
    let smoke = SmokeTest::write(workspace.dir.path(), TEST_ROUTE_PROBE);

    // While the smoke test runs, only requests with the header reach green.
    let deploy = workspace
        .run("deploy", &["--service", "portal"])
        .also_printing(&up.log)
        .spawn();
    let (seen, deploy) = smoke.seen(deploy).await;
    assert_told_green(&seen, workspace.portal_url().trim_end_matches('/'));
    assert_eq!(seen["status"], 200);
    let portal = service(&workspace.status(), "portal").clone();
    assert_eq!(portal["live_color"], "blue");
    assert_eq!(portal["test_route"], "green");
    assert_eq!(
        served_by_color(&workspace, Some(("x-dashctl-color", "GREEN")), 20).await,
        (0, 20),
        "the header reaches green (its value compared case-insensitively, as an ALB does)"
    );
    assert_eq!(served_by_color(&workspace, None, 20).await, (20, 0));
    assert_eq!(
        served_by_color(&workspace, Some(("X-Dashctl-Color", "blue")), 20).await,
        (20, 0),
        "another value is routed as if there were no header"
    );
    smoke.ends_with(0);
    let passed = deploy.succeeds();
    for step in [
        &format!(
            "portal: test route open: {} with `X-Dashctl-Color: green` reaches green",
            workspace.portal_url().trim_end_matches('/')
        ),
        "portal: running the smoke test against green",
        "portal: switching traffic to green",
        "portal: live on green (was blue)",
    ] {
        passed.contains(step);
    }
    let portal = service(&workspace.status(), "portal").clone();
    assert_eq!(portal["live_color"], "green");
    assert_eq!(
        portal["test_route"],
        serde_json::Value::Null,
        "closed at the switch"
    );

    // A failing smoke test abandons the release: green keeps serving, the route is gone.
    smoke.ends_with(3);
    spec.portal_args = vec!["--stale-after".into(), "40".into()];
    workspace.write(&spec);
    workspace
        .run("deploy", &["--service", "portal"])
        .also_printing(&up.log)
        .exits(3)
        .contains("portal: rollout to blue abandoned (smoke test `python3 smoke.py` exited with status 3; its output ended: GET /readyz with X-Dashctl-Color: blue -> 200 | verdict 3); green still serves all traffic");
    let portal = service(&workspace.status(), "portal").clone();
    assert_eq!(portal["live_color"], "green");
    assert_eq!(portal["test_route"], serde_json::Value::Null);
    assert!(
        portal["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .all(|instance| instance["color"] == "green"),
        "blue was scaled back down: {portal}"
    );
    assert!(page(&workspace.portal_url()).await.is_some());
}

/// `deploy --service portal --wait-until STAGE`, which pauses there.
fn pause_portal_at(workspace: &Workspace, stage: &str) -> crate::harness::Ran {
    workspace
        .run(
            "deploy",
            &[
                "--env",
                "local",
                "--service",
                "portal",
                "--wait-until",
                stage,
            ],
        )
        .succeeds()
}

#[tokio::test]
async fn wait_until_healthy_pauses_with_the_test_route_open_and_resume_goes_live() {
    let (_, workspace, _up) = up_with_a_new_portal("{ bake: 0s, health_timeout: 15s }").await;
    pause_portal_at(&workspace, "healthy")
        .contains("paused at healthy")
        .stdout_contains(
            "portal: rollout blue -> green paused at healthy; blue serves all traffic",
        );
    // Green serves only requests that ask for it; production traffic stays on blue.
    assert_eq!(
        served_by_color(&workspace, Some(("X-Dashctl-Color", "green")), 10).await,
        (0, 10)
    );
    assert_eq!(served_by_color(&workspace, None, 10).await, (10, 0));
    workspace
        .run("rollout status", &["--env", "local"])
        .succeeds()
        .stdout_contains("paused at healthy");
    let status = workspace
        .run("rollout status", &["--env", "local", "--output", "json"])
        .succeeds()
        .json();
    assert_eq!(status["rollout"]["stage"], "healthy", "{status}");
    assert_eq!(status["rollout"]["paused"], true, "{status}");
    assert_eq!(workspace.status()["rollouts"][0]["stage"], "healthy");
    // Nothing else changes these colors until the rollout is resumed or aborted.
    workspace
        .run("deploy", &["--env", "local"])
        .exits(2)
        .contains("`dashctl rollout resume` continues it");
    workspace
        .run("rollback", &["--env", "local"])
        .exits(2)
        .contains("`dashctl rollout abort` puts traffic back on blue");

    workspace
        .run("rollout resume", &["--env", "local"])
        .succeeds()
        .contains("resuming from healthy")
        .stdout_contains("portal: live on green (was blue)");
    assert_eq!(
        service(&workspace.status(), "portal")["live_color"],
        "green"
    );
    assert_eq!(served_by_color(&workspace, None, 10).await, (0, 10));
    workspace
        .run("rollout status", &["--env", "local"])
        .succeeds()
        .stdout_contains("no rollout is running or paused");
    workspace
        .run("rollout resume", &["--env", "local"])
        .exits(2)
        .contains("no rollout is unfinished: there is nothing to resume");
}

#[tokio::test]
async fn a_rollout_paused_at_each_stage_is_undone_by_abort() {
    let (_, workspace, up) = up_with_a_new_portal("{ bake: 0s, health_timeout: 15s }").await;
    for (stage, serving) in [
        ("healthy", "blue"),
        ("switched", "green"),
        ("baked", "green"),
    ] {
        pause_portal_at(&workspace, stage).stdout_contains(&format!("paused at {stage}"));
        let portal = service(&workspace.status(), "portal").clone();
        assert_eq!(portal["live_color"], serving, "{stage}");
        // The old color is still up: nothing was retired.
        assert!(
            !instance_ids(&workspace.status(), "blue").is_empty(),
            "{stage}"
        );

        workspace
            .run("rollout abort", &["--env", "local", "--output", "jsonl"])
            .succeeds()
            .stdout_contains(r#""event":"aborted""#);
        up.wait_for_status(&workspace, "blue serves alone again", |status| {
            service(status, "portal")["live_color"] == "blue"
                && instance_ids(status, "green").is_empty()
                && status["rollouts"].as_array().is_some_and(Vec::is_empty)
        })
        .await;
        assert_eq!(
            served_by_color(&workspace, None, 5).await,
            (5, 0),
            "{stage}"
        );
    }
    // Green never went live for good, so there is still nothing to roll back to.
    workspace
        .run("rollback", &["--service", "portal", "--env", "local"])
        .exits(1)
        .contains("portal: nothing to roll back to (green has no earlier release)");
}
