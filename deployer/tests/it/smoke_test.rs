//! A smoke test the test holds at its end: it says what it was told and what its `probe`
//! found (in `seen.json`), then waits for the test to write the exit status it must end with
//! into `verdict`. Both platforms' test-route tests run it, each with its own probe.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::Running;

pub struct SmokeTest {
    dir: PathBuf,
}

impl SmokeTest {
    /// Writes `dir/smoke.py`, to run in `dir`. `probe` is Python that sets `seen`, a dict of
    /// what it found, and `said`, the line it prints before its verdict.
    pub fn write(dir: &Path, probe: &str) -> Self {
        let script = format!(
            r#"
import json, os, time
{probe}
seen.update({{key: os.environ[key] for key in ("DASHCTL_TEST_URL", "DASHCTL_TEST_HEADER", "DASHCTL_SERVICE", "DASHCTL_COLOR")}})
with open("seen.json.tmp", "w") as out:
    json.dump(seen, out)
os.rename("seen.json.tmp", "seen.json")
while not os.path.exists("verdict"):
    time.sleep(0.05)
code = int(open("verdict").read())
print(said)
print(f"verdict {{code}}")
raise SystemExit(code)
"#
        );
        std::fs::write(dir.join("smoke.py"), script).expect("smoke.py");
        Self {
            dir: dir.to_owned(),
        }
    }

    /// Waits until the smoke test `rollout` runs has written what it saw, and returns it
    /// (removing it for the next one); fails with what the rollout printed if it ends first.
    pub async fn seen(&self, mut rollout: Running) -> (Value, Running) {
        let seen = self.dir.join("seen.json");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !seen.exists() {
            if rollout.has_ended() {
                // No exit status is -1: this fails, showing what the rollout printed.
                rollout.exits(-1);
                unreachable!("the rollout ended before its smoke test ran");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the smoke test did not run"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (self.take_seen(), rollout)
    }

    /// What the last smoke test saw, which it has written; removed for the next one.
    pub fn take_seen(&self) -> Value {
        let seen = self.dir.join("seen.json");
        let text = std::fs::read_to_string(&seen).expect("seen.json");
        std::fs::remove_file(&seen).expect("reset");
        serde_json::from_str(&text).expect("json")
    }

    /// The smoke test running now, or the next one, ends with `code`.
    pub fn ends_with(&self, code: i32) {
        std::fs::write(self.dir.join("verdict"), code.to_string()).expect("verdict");
    }

    /// The next smoke test waits for `ends_with`.
    pub fn holds(&self) {
        let _ = std::fs::remove_file(self.dir.join("verdict"));
    }
}

/// The smoke test was told to check portal's green through the test route at `url`.
pub fn assert_told_green(seen: &Value, url: &str) {
    assert_eq!(seen["DASHCTL_TEST_URL"], url, "{seen}");
    assert_eq!(
        seen["DASHCTL_TEST_HEADER"], "X-Dashctl-Color: green",
        "{seen}"
    );
    assert_eq!(seen["DASHCTL_SERVICE"], "portal", "{seen}");
    assert_eq!(seen["DASHCTL_COLOR"], "green", "{seen}");
}
