//! The commands that talk to a running `dashctl up`: status, deploy, rollback, down.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use super::api::{ActionReport, RolloutLine, RolloutRequest, StatusReport};
use super::control_file::{self, ControlFile};
use super::process::ProcessIdentity;
use crate::events::Events;
use crate::spec::LoadedSpec;

pub struct Connection {
    file: ControlFile,
    /// The `up` process itself, verified by start time: a pid reused since is not it.
    up: ProcessIdentity,
    http: reqwest::Client,
}

impl Connection {
    /// Finds the `up` running this spec through the control file in its state directory.
    pub fn open(loaded: &LoadedSpec) -> anyhow::Result<Self> {
        let state_dir = loaded.state_dir_absolute();
        let file = ControlFile::read(&state_dir)
            .with_context(|| format!("reading {}", control_file::path(&state_dir).display()))?;
        let Some((file, up)) = file.and_then(|file| file.running_up().map(|up| (file, up))) else {
            bail!(
                "dashctl up is not running for {} ({}); start it with `dashctl up -f {}`",
                loaded.spec.app,
                loaded.spec.environment,
                loaded.path.display()
            );
        };
        let http = reqwest::Client::builder()
            .build()
            .context("building the HTTP client")?;
        Ok(Self { file, up, http })
    }

    /// A request to `dashctl up`'s control API, with its token.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.file.url))
            .bearer_auth(&self.file.token)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, timeout: Duration) -> anyhow::Result<T> {
        let response = self
            .request(reqwest::Method::GET, path)
            .timeout(timeout)
            .send()
            .await
            .with_context(|| self.unreachable())?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("reading the answer of dashctl up")?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(value),
            Err(_) => bail!(
                "dashctl up answered {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ),
        }
    }

    pub async fn status(&self) -> anyhow::Result<StatusReport> {
        self.get("/status", Duration::from_secs(10)).await
    }

    /// Deploys, rolls back, resumes or aborts as `request` says, passing each event to
    /// `events` as it happens. No time limit: the answer streams until the whole rollout is
    /// done (health waits and bake included), one line per event, the report last.
    pub async fn roll_out(
        &self,
        request: &RolloutRequest,
        events: &Events,
    ) -> anyhow::Result<ActionReport> {
        let mut response = self
            .request(reqwest::Method::POST, "/rollout")
            .json(request)
            .send()
            .await
            .with_context(|| self.unreachable())?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            bail!(
                "dashctl up (pid {}) is older than this dashctl and does not know its rollout requests; restart it (`dashctl down`, then `dashctl up`)",
                self.file.pid
            );
        }
        let mut pending: Vec<u8> = Vec::new();
        loop {
            while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice(&line) {
                    Ok(RolloutLine::Event(event)) => events.emit(event),
                    Ok(RolloutLine::Done(report)) => return Ok(report),
                    Err(_) => bail!(
                        "dashctl up answered {status}: {}",
                        String::from_utf8_lossy(&line).trim()
                    ),
                }
            }
            let chunk = response
                .chunk()
                .await
                .context("reading the answer of dashctl up")?;
            match chunk {
                Some(chunk) => pending.extend_from_slice(&chunk),
                None if pending.iter().all(u8::is_ascii_whitespace) => bail!(
                    "dashctl up (pid {}) stopped answering before the rollout ended; `dashctl status` shows where it is",
                    self.file.pid
                ),
                None => bail!(
                    "dashctl up answered {status}: {}",
                    String::from_utf8_lossy(&pending).trim()
                ),
            }
        }
    }

    fn unreachable(&self) -> String {
        format!(
            "cannot reach dashctl up (pid {}) at {}",
            self.file.pid, self.file.url
        )
    }

    /// Asks `up` to stop and waits until its process has exited.
    pub async fn down(&self, wait: Duration) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::POST, "/down")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .context("cannot reach dashctl up")?;
        if !response.status().is_success() {
            bail!("dashctl up refused to stop: {}", response.status());
        }
        let deadline = tokio::time::Instant::now() + wait;
        while self.up.is_same_process() {
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "dashctl up (pid {}) is still stopping after {}s",
                    self.file.pid,
                    wait.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client of an `up` at `url`: this test process stands in for it.
    fn client_of(url: String) -> Connection {
        let pid = std::process::id();
        Connection {
            file: ControlFile {
                pid,
                start_ticks: None,
                url,
                token: "token".into(),
                app: "dashboard".into(),
                environment: "test".into(),
                spec: "dashboard.yaml".into(),
                children: Vec::new(),
            },
            up: ProcessIdentity::current(pid).expect("this process"),
            http: reqwest::Client::new(),
        }
    }

    #[tokio::test]
    async fn an_up_that_does_not_know_the_request_is_told_to_restart() {
        // An `up` from before `POST /rollout` answers 404 with no body.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, axum::Router::new())
                .await
                .expect("serve")
        });
        let error = client_of(url)
            .roll_out(&RolloutRequest::Abort, &Events::new(|_| {}))
            .await
            .expect_err("404");
        assert!(
            error.to_string().contains("is older than this dashctl")
                && error
                    .to_string()
                    .contains("`dashctl down`, then `dashctl up`"),
            "{error}"
        );
        server.abort();
    }
}
