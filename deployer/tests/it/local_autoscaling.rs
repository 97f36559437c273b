//! The local autoscaler: a burst scales portal out, quiet scales it back in after the cooldown,
//! draining instances before they stop.

use std::time::Duration;

use crate::harness::{DashboardSpec, Workspace, service};

fn live_instances(workspace: &Workspace) -> u64 {
    service(&workspace.status(), "portal")["desired"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_burst_scales_out_and_quiet_scales_back_in() {
    let spec = DashboardSpec {
        // 120 requests per minute per instance = 2 per second.
        portal_scaling: "{ min: 1, max: 3, requests_per_target: 120, scale_out_cooldown: 1s, scale_in_cooldown: 3s }",
        autoscale_interval: "250ms",
        metric_window: "2s",
        ..DashboardSpec::default()
    };
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;
    assert_eq!(live_instances(&workspace), 1);

    // A bounded burst: 400 requests over about two seconds, far above 3 x 2 per second.
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let requests = (0..20).map(|_| client.get(workspace.portal_url()).send());
        for response in futures_util::future::join_all(requests).await {
            assert!(response.is_ok_and(|response| response.status().is_success()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Out, then, once quiet, back to the minimum when the window empties and the scale-in
    // cooldown passes.
    let stages = [
        ("portal scales out to 3 instances", 20, "desired", 3),
        ("the new instances are ready", 20, "ready", 3),
        ("portal scales back in to 1 instance", 30, "desired", 1),
    ];
    for (what, seconds, count, wanted) in stages {
        up.wait_until(what, Duration::from_secs(seconds), || {
            let now = service(&workspace.status(), "portal")[count].as_u64();
            async move { now == Some(wanted) }
        })
        .await;
    }
    // Scaling in drains the instances it retires before they stop, which takes a moment after
    // the desired count drops.
    up.wait_until("retired instances stop", Duration::from_secs(30), || {
        let stopped = up.log_text().contains("instance stopped");
        async move { stopped }
    })
    .await;
    up.log_contains("scaling: ")
        .log_contains("> target 120")
        .log_contains("< target 120")
        .log_contains("instance stopped");
}
