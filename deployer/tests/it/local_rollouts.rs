//! Local blue/green through the shared rollout engine: deploy, failed deploy, rollback.

use std::time::Duration;

use crate::harness::{DashboardSpec, Workspace, page, service};

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
        .exits(1)
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
}

#[tokio::test]
async fn a_local_canary_shares_requests_between_colors_before_the_switch() {
    let mut spec = DashboardSpec {
        portal_deploy: "{ strategy: canary, canary: [50%, 4s], bake: 0s, health_timeout: 15s }",
        ..DashboardSpec::default()
    };
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;
    spec.portal_args = vec!["--stale-after".into(), "30".into()];
    workspace.write(&spec);
    let deploy = workspace.run("deploy", &["--env", "local"]).spawn();

    up.wait_until("the canary step starts", Duration::from_secs(30), || {
        let canary = service(&workspace.status(), "portal")["canary"].clone();
        async move { canary == serde_json::json!(["green", 50]) }
    })
    .await;
    let before = workspace.status();
    for _ in 0..40 {
        assert!(page(&workspace.portal_url()).await.is_some());
    }
    let after = workspace.status();
    let served = |status: &serde_json::Value, color: &str| -> u64 {
        service(status, "portal")["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .filter(|instance| instance["color"] == color)
            .filter_map(|instance| instance["requests"].as_u64())
            .sum()
    };
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
    let mut spec = DashboardSpec {
        portal_deploy: "{ bake: 0s, keep_previous: 1h, health_timeout: 15s }",
        ..DashboardSpec::default()
    };
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;
    let blue = instance_ids(&workspace.status(), "blue");
    assert_eq!(blue.len(), 1);

    spec.portal_args = vec!["--stale-after".into(), "30".into()];
    workspace.write(&spec);
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
    up.wait_until(
        "blue is retired after its window",
        Duration::from_secs(30),
        || {
            let status = workspace.status();
            async move { instance_ids(&status, "blue").is_empty() }
        },
    )
    .await;
    let status = workspace.status();
    assert_eq!(service(&status, "portal")["live_color"], "green");
    assert_eq!(
        service(&status, "portal")["kept_warm"],
        serde_json::Value::Null
    );
    assert!(page(&workspace.portal_url()).await.is_some());
}
