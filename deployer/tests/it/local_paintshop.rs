//! paintshop behind the local proxy: legacy raw request lines pass, and a crash heals.

use crate::harness::{paintshop_workspace, raw_get, service};

#[tokio::test]
async fn legacy_request_lines_pass_the_proxy_and_a_crashed_instance_comes_back() {
    let workspace = paintshop_workspace();
    let up = workspace.up_serving("healthz").await;

    let answer = raw_get(
        workspace.portal_port,
        r#"/v1/?input={"colors":5,"customers":3,"demands":[[1,1,1],[2,1,0,2,0],[1,5,0]]}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n1 0 0 0 0"), "{answer}");

    // The self-healing drill: /crash kills the instance; the supervisor brings it back.
    // The answer may or may not arrive before the process exits; the restart count tells.
    let _ = reqwest::get(format!("{}crash", workspace.portal_url())).await;
    up.wait_for_status(
        &workspace,
        "the crashed instance restarted and is ready",
        |status| {
            let api = service(status, "api");
            api["instances"][0]["restarts"].as_u64() >= Some(1) && api["ready"] == 1
        },
    )
    .await;
    let answer = raw_get(
        workspace.portal_port,
        r#"/v1/?input={"colors":1,"customers":2,"demands":[[1,1,1],[1,1,0]]}"#,
    );
    assert!(answer.ends_with("IMPOSSIBLE"), "{answer}");
}
