//! The local proxy as a load balancer should behave toward a slow or chatty instance: it stops
//! waiting at `local.upstream_timeout` (504), keeps connection-scoped headers to itself, and
//! tells the instance who the client is the way an ALB does.

use crate::harness::{Workspace, free_port, raw, raw_get};
use crate::python_instance;

/// Answers `/readyz` at once, echoes the headers it received on `/echo`, never answers
/// `/slow`, and sends a header of its own that is only for the next hop.
const ANSWER: &str = r#"
def answer(request):
    if request.path == "/slow":
        time.sleep(30)
    body = b"ok\n" if request.path == "/readyz" else "".join(
        f"{k.lower()}: {v}\n" for k, v in request.headers.items()).encode()
    return 200, body, [("Connection", "keep-alive, x-internal"), ("X-Internal", "instance detail")]
"#;

fn workspace() -> Workspace {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("slow.yaml");
    let script = python_instance::write(dir.path(), "instance.py", ANSWER);
    let port = free_port();
    let yaml = format!(
        r#"app: slow
environment: test
local: {{ health_interval: 200ms, upstream_timeout: 1s }}
services:
  web:
    port: 8080
    public: true
    health: {{ path: /readyz, healthy_threshold: 2 }}
    local:
      command: ["python3", "{script}", "${{port}}"]
      listen_port: {port}
"#,
        script = script.display()
    );
    std::fs::write(&spec, yaml).expect("spec");
    Workspace {
        dir,
        spec,
        portal_port: port,
    }
}

#[tokio::test]
async fn a_slow_instance_gets_a_504_and_headers_are_forwarded_as_an_alb_does() {
    let workspace = workspace();
    let _up = workspace.up_serving("readyz").await;

    let slow = raw_get(workspace.portal_port, "/slow");
    assert!(slow.starts_with("HTTP/1.1 504"), "{slow}");
    assert!(slow.contains("did not answer within 1s"), "{slow}");

    let echo = raw(
        workspace.portal_port,
        "GET /echo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close, x-hop\r\nX-Hop: secret\r\nProxy-Authorization: Basic eA==\r\n\r\n",
    );
    assert!(echo.starts_with("HTTP/1.1 200"), "{echo}");
    let (head, body) = echo.split_once("\r\n\r\n").expect("head and body");
    // To the instance: the client appended to X-Forwarded-For, no hop-by-hop headers.
    assert!(
        body.contains("x-forwarded-for: 198.51.100.1, 127.0.0.1\n"),
        "{body}"
    );
    assert!(body.contains("x-forwarded-proto: http\n"), "{body}");
    assert!(
        body.contains(&format!("x-forwarded-port: {}\n", workspace.portal_port)),
        "{body}"
    );
    for hop in ["x-hop", "proxy-authorization"] {
        assert!(
            !body.contains(&format!("{hop}:")),
            "{hop} forwarded: {body}"
        );
    }
    // To the client: the instance's connection-scoped header stays behind.
    assert!(!head.to_ascii_lowercase().contains("x-internal"), "{head}");

    // This service did not ask for raw request lines (`local.raw_request_lines`): the proxy
    // parses strictly, as hyper does, and refuses them before any instance sees them.
    let raw_json = raw_get(workspace.portal_port, "/echo?input={\"a\":[1]}");
    assert!(raw_json.starts_with("HTTP/1.1 400"), "{raw_json}");
}
