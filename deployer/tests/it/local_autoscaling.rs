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
    up.wait_until(
        "portal scales out to 3 instances",
        Duration::from_secs(20),
        || {
            let count = live_instances(&workspace);
            async move { count == 3 }
        },
    )
    .await;
    up.wait_until(
        "the new instances are ready",
        Duration::from_secs(20),
        || {
            let ready = service(&workspace.status(), "portal")["ready"].as_u64();
            async move { ready == Some(3) }
        },
    )
    .await;

    // Quiet: back to the minimum once the window empties and the scale-in cooldown passes.
    up.wait_until(
        "portal scales back in to 1 instance",
        Duration::from_secs(30),
        || {
            let count = live_instances(&workspace);
            async move { count == 1 }
        },
    )
    .await;
    let log = up.log_text();
    assert!(
        log.contains("scaling: ") && log.contains("> target 120"),
        "{log}"
    );
    assert!(log.contains("< target 120"), "{log}");
    assert!(log.contains("instance stopped"), "{log}");
}
