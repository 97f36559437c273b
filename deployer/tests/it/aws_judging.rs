//! Judging a release on AWS by its load balancer metrics (CloudWatch GetMetricData per target
//! group), against the double, whose listeners serve the traffic a test offers them (R17): a
//! release within its limits goes live with its judgements in `--output jsonl`; one whose
//! canary answers 5xx is abandoned, the metric named, traffic back on the live color.

use serde_json::json;

use crate::aws_clients::Aws;
use crate::aws_fixture::{Deployed, Spec};
use crate::judgements::{Passing, assert_green_judged_well, judgements};
use crate::moto::Moto;

/// Portal goes out in one 3 s canary step at 50% and bakes 2 s, judged on its 5xx share.
const JUDGED: &str = "deploy: { strategy: canary, canary: [50%, 3s], bake: 2s, auto_rollback: true, health_timeout: 8s, judge: { max_5xx_rate: 5%, min_requests: 10 } }";

/// Offers portal's listener 40 requests a second from now on; each color answers that share
/// of what it gets with a 5xx.
async fn offer_portal_traffic(moto: &Moto, blue_5xx: f64, green_5xx: f64) {
    let body = json!({
        "region": "us-east-1",
        "requests_per_second": 40,
        "target_groups": {
            "dashboard-prod-portal-blue": {"error_share": blue_5xx, "response_seconds": 0.05},
            "dashboard-prod-portal-green": {"error_share": green_5xx, "response_seconds": 0.05},
        },
    });
    let response = reqwest::Client::new()
        .post(format!("{}/moto-api/double/alb-traffic", moto.url))
        .json(&body)
        .send()
        .await
        .expect("the double's traffic endpoint");
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap_or_default()
    );
}

async fn portal_weights(aws: &Aws) -> Vec<(String, i32)> {
    let listeners = aws.listeners("dashboard-prod-public").await;
    aws.forward_weights(&listeners[0]).await
}

#[tokio::test]
async fn a_release_is_judged_by_its_target_groups_metrics() {
    let deployed = Deployed::new(Spec::dashboard(JUDGED));
    let aws = Aws::new(&deployed.moto).await;

    deployed
        .release("portal=example/portal:v2")
        .args(&["--dry-run"])
        .succeeds()
        .contains("for 3s, judging its 5xx rate and p99 against blue's (deploy.judge)");

    // v2 answers well: judged at the end of the canary step and of the bake, it goes live.
    offer_portal_traffic(&deployed.moto, 0.0, 0.0).await;
    let released = deployed
        .release("portal=example/portal:v2")
        .args(&["--output", "jsonl"])
        .succeeds();
    let judgements = judgements(&released);
    assert_green_judged_well(&judgements, Passing::Canary);
    // The double's targets answer in 50 ms.
    assert_eq!(judgements[0]["readings"]["p99_ms"], 50.0, "{judgements:#?}");

    // v3 goes to blue, which now answers every request with a 5xx: abandoned in its canary.
    offer_portal_traffic(&deployed.moto, 1.0, 0.0).await;
    deployed
        .release("portal=example/portal:v3")
        .exits(3)
        .contains("portal: rollout to blue abandoned (canary at 50%: 5xx rate of blue is ")
        .contains("above max_5xx_rate 5% (green: 0%)); green still serves all traffic");
    assert_eq!(
        portal_weights(&aws).await,
        [
            ("dashboard-prod-portal-blue".to_owned(), 0),
            ("dashboard-prod-portal-green".to_owned(), 100),
        ]
    );
}
