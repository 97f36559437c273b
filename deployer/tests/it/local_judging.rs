//! Judging a local release by what the proxy measured: a new color answering 5xx under load
//! during a canary step is abandoned with the metric named; one within the limits goes live
//! with its judgements (and readings) in `--output jsonl`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::harness::{Workspace, service};
use crate::judgements::{Passing, assert_green_judged_well, judgements};
use crate::python_instance;

/// Answers every request but `/readyz` with the status in `ANSWER`.
const ANSWER: &str = r#"
def answer(request):
    status = 200 if request.path == "/readyz" else int(os.environ["ANSWER"])
    return status, b"answered by release %s\n" % os.environ["RELEASE"].encode(), []
"#;

/// Writes the spec: one public service `web` running release `release`, answering `answer`.
fn write_spec(workspace: &Workspace, release: &str, answer: u16) {
    let server = python_instance::write(workspace.dir.path(), "server.py", ANSWER);
    let yaml = format!(
        r#"app: judged
environment: test
local:
  health_interval: 200ms
  drain_timeout: 1s
services:
  web:
    port: 5000
    public: true
    health: {{ path: /readyz, healthy_threshold: 2, unhealthy_threshold: 2 }}
    env:
      RELEASE: "{release}"
      ANSWER: "{answer}"
    deploy:
      strategy: canary
      canary: [50%, 3s]
      bake: 2s
      health_timeout: 15s
      judge: {{ max_5xx_rate: 5%, max_p99: 5s, min_requests: 10 }}
    local:
      command: [python3, "{server}", "${{port}}"]
      listen_port: {port}
"#,
        server = server.display(),
        port = workspace.portal_port,
    );
    std::fs::write(&workspace.spec, yaml).expect("writing spec");
}

/// Requests to `url` one after another until dropped, as a steady trickle of users.
struct Load {
    stop: Arc<AtomicBool>,
}

impl Load {
    fn start(url: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stopped.load(Ordering::Relaxed) {
                let _ = client.get(&url).send().await;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        });
        Self { stop }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_answering_5xx_is_abandoned_and_a_good_release_shows_its_judgements() {
    let workspace = Workspace::new(&Default::default());
    write_spec(&workspace, "1", 200);
    let up = workspace.up_serving("").await;
    let _load = Load::start(workspace.portal_url());

    // Release 2 answers 500: its canary step's judgement abandons it.
    write_spec(&workspace, "2", 500);
    let abandoned = workspace
        .run("deploy", &["--env", "local"])
        .also_printing(&up.log)
        .exits(3);
    abandoned
        .contains("web: rollout to green abandoned (canary at 50%: 5xx rate of green is 100% (")
        .contains("requests), above max_5xx_rate 5% (blue: 0%)); blue still serves all traffic");
    let web = service(&workspace.status(), "web").clone();
    assert_eq!(web["live_color"], "blue", "{web}");
    assert!(web["canary"].is_null(), "{web}");

    // Release 3 answers well: judged at the canary step's end and the bake's, and goes live.
    write_spec(&workspace, "3", 200);
    let released = workspace
        .run("deploy", &["--env", "local", "--output", "jsonl"])
        .also_printing(&up.log)
        .succeeds();
    let judgements = judgements(&released);
    assert_green_judged_well(&judgements, Passing::All);
    for judgement in &judgements {
        assert_eq!(judgement["live"], "blue", "{judgement}");
    }
    assert_eq!(service(&workspace.status(), "web")["live_color"], "green");
}
