//! One supervised child process: started, health-checked, restarted with backoff when it
//! exits on its own, drained and stopped when asked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::release::LocalRelease;
use crate::rollout::Color;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long before exiting restarts without waiting (its backoff resets).
const STABLE_AFTER: Duration = Duration::from_secs(30);
const TERMINATE_GRACE: Duration = Duration::from_secs(10);

/// How instances are checked: path, cadence and AWS-style thresholds.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    pub path: String,
    pub interval: Duration,
    pub healthy_threshold: u8,
    pub unhealthy_threshold: u8,
}

/// Where instances run and log.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub workdir: PathBuf,
    pub logs_dir: PathBuf,
}

#[derive(Debug)]
pub struct Instance {
    pub id: String,
    pub color: Color,
    pub port: u16,
    pid: AtomicU32,
    restarts: AtomicU32,
    ready: AtomicBool,
    draining: AtomicBool,
    in_flight: AtomicU64,
    requests: AtomicU64,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub id: String,
    pub color: Color,
    pub port: u16,
    pub pid: Option<u32>,
    pub ready: bool,
    pub draining: bool,
    pub restarts: u32,
    pub requests: u64,
}

/// Counts a request as in flight until dropped, so draining can wait for it.
pub struct InFlight(Arc<Instance>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Instance {
    /// Starts the process and its supervisor and health-check tasks.
    pub async fn launch(
        id: String,
        color: Color,
        port: u16,
        release: Arc<LocalRelease>,
        context: Arc<RunContext>,
        health: HealthSettings,
        http: reqwest::Client,
    ) -> Arc<Self> {
        let instance = Arc::new(Self {
            id,
            color,
            port,
            pid: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let supervisor = tokio::spawn(supervise(instance.clone(), release, context));
        let checker = tokio::spawn(check_health(instance.clone(), health, http));
        instance.tasks.lock().await.extend([supervisor, checker]);
        instance
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Acquire)).filter(|pid| *pid != 0)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Marks a request as routed here; it stays in flight until the guard is dropped.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// The proxy saw the process refuse a connection: stop routing here until the next
    /// successful health check.
    pub fn mark_unreachable(&self) {
        self.ready.store(false, Ordering::Release);
    }

    pub fn status(&self) -> InstanceStatus {
        InstanceStatus {
            id: self.id.clone(),
            color: self.color,
            port: self.port,
            pid: self.pid(),
            ready: self.is_ready(),
            draining: self.is_draining(),
            restarts: self.restarts.load(Ordering::Relaxed),
            requests: self.requests(),
        }
    }

    /// Stops taking new requests, waits for in-flight ones (up to `timeout`), then stops
    /// the process (SIGTERM, then SIGKILL after a grace period).
    pub async fn drain_and_stop(&self, timeout: Duration) {
        self.draining.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        while self.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().await);
        for task in tasks {
            let _ = task.await;
        }
        self.ready.store(false, Ordering::Release);
    }
}

fn spawn_child(
    instance: &Instance,
    release: &LocalRelease,
    context: &RunContext,
) -> std::io::Result<Child> {
    let (command, env) = release.for_instance(instance.port, &instance.id, instance.color.as_str());
    let Some((program, args)) = command.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let program = resolve_program(program, &context.workdir);
    let log_path = context.logs_dir.join(format!("{}.log", instance.id));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut child = Command::new(program);
    child
        .args(args)
        .envs(env)
        .current_dir(&context.workdir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal reaches dashctl only, which then
        // drains and stops instances in order instead of racing their restart.
        .process_group(0)
        .kill_on_drop(true);
    child.spawn()
}

/// A program with a `/` is a path relative to the workdir; a bare name is looked up on PATH.
fn resolve_program(program: &str, workdir: &Path) -> PathBuf {
    if program.contains('/') {
        workdir.join(program)
    } else {
        PathBuf::from(program)
    }
}

async fn supervise(instance: Arc<Instance>, release: Arc<LocalRelease>, context: Arc<RunContext>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let outcome = match spawn_child(&instance, &release, &context) {
            Ok(mut child) => {
                instance
                    .pid
                    .store(child.id().unwrap_or(0), Ordering::Release);
                tracing::info!(instance = %instance.id, pid = child.id(), port = instance.port, "instance started");
                tokio::select! {
                    status = child.wait() => status.map(|status| status.to_string()).unwrap_or_else(|error| error.to_string()),
                    () = instance.stop.cancelled() => {
                        terminate(&mut child).await;
                        instance.pid.store(0, Ordering::Release);
                        tracing::info!(instance = %instance.id, "instance stopped");
                        return;
                    }
                }
            }
            Err(error) => format!("could not start: {error}"),
        };
        instance.pid.store(0, Ordering::Release);
        instance.ready.store(false, Ordering::Release);
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        let restarts = instance.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            instance = %instance.id,
            outcome = %outcome,
            restarts,
            backoff_ms = backoff.as_millis() as u64,
            "instance exited; restarting after backoff (logs: {})",
            context.logs_dir.join(format!("{}.log", instance.id)).display()
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = instance.stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        if tokio::time::timeout(TERMINATE_GRACE, child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Polls the health path like a load balancer: `healthy_threshold` consecutive successes make
/// the instance ready, `unhealthy_threshold` consecutive failures take it out.
async fn check_health(instance: Arc<Instance>, health: HealthSettings, http: reqwest::Client) {
    let url = format!("http://127.0.0.1:{}{}", instance.port, health.path);
    let (mut successes, mut failures) = (0u8, 0u8);
    let mut ticker = tokio::time::interval(health.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = instance.stop.cancelled() => return,
        }
        let healthy = instance.pid().is_some()
            && http
                .get(&url)
                .timeout(health.interval.max(Duration::from_millis(200)))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
        if healthy {
            failures = 0;
            successes = successes.saturating_add(1);
            if successes >= health.healthy_threshold && !instance.ready.swap(true, Ordering::AcqRel)
            {
                tracing::info!(instance = %instance.id, "instance is ready");
            }
        } else {
            successes = 0;
            failures = failures.saturating_add(1);
            let was_ready = instance.ready.load(Ordering::Acquire);
            if (failures >= health.unhealthy_threshold || instance.pid().is_none()) && was_ready {
                instance.ready.store(false, Ordering::Release);
                tracing::warn!(instance = %instance.id, "instance failed its health check");
            }
        }
    }
}
