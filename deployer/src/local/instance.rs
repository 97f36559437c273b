//! One supervised child process: started, health-checked, restarted with backoff when it
//! exits on its own, drained and stopped when asked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::log_writer;
use super::port;
use super::process::{self, ProcessIdentity};
use super::release::LocalRelease;
use crate::rollout::Color;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long before exiting restarts without waiting (its backoff resets).
const STABLE_AFTER: Duration = Duration::from_secs(30);
const TERMINATE_GRACE: Duration = Duration::from_secs(10);
/// How long after its group got SIGKILL the instance's own process is waited for.
const LEADER_MARGIN: Duration = Duration::from_secs(1);
/// How long the last lines of a stopped child may take to reach its log.
const COPY_MARGIN: Duration = Duration::from_secs(1);

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
    /// Changes only when another program took it (see port.rs).
    port: AtomicU16,
    /// `127.0.0.1:{port}`, as the proxy's request URIs need it: built when the port is set,
    /// not on every request.
    pid: AtomicU32,
    /// The running child with its start time, for control.json; `None` between runs.
    process: std::sync::Mutex<Option<ProcessIdentity>>,
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
            port: AtomicU16::new(port),
            pid: AtomicU32::new(0),
            process: std::sync::Mutex::new(None),
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

    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Acquire)
    }

    /// Where the proxy sends this instance's requests.
    pub fn address(&self) -> std::net::SocketAddr {
        (std::net::Ipv4Addr::LOCALHOST, self.port()).into()
    }

    fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Release);
    }

    /// The running child, identified so a later reader of control.json can tell it from a
    /// process that reused its pid.
    pub fn process(&self) -> Option<ProcessIdentity> {
        *self
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_process(&self, pid: Option<u32>) {
        let identity = pid.and_then(ProcessIdentity::current);
        *self
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = identity;
        self.pid.store(pid.unwrap_or(0), Ordering::Release);
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
            port: self.port(),
            pid: self.pid(),
            ready: self.is_ready(),
            draining: self.is_draining(),
            restarts: self.restarts.load(Ordering::Relaxed),
            requests: self.requests(),
        }
    }

    /// Stops taking new requests, waits for in-flight ones (up to `timeout`), then stops
    /// the process group (SIGTERM, then SIGKILL after a grace period). Returns once the
    /// processes are gone.
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

/// A started child and the tasks copying its stdout and stderr into its log.
struct Started {
    child: Child,
    copiers: Vec<JoinHandle<()>>,
}

fn spawn_child(
    instance: &Instance,
    release: &LocalRelease,
    context: &RunContext,
) -> std::io::Result<Started> {
    let (command, env) =
        release.for_instance(instance.port(), &instance.id, instance.color.as_str());
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
        // Through dashctl, which stamps every line with the time (log_writer.rs).
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C in the terminal reaches dashctl only, which then
        // drains and stops instances in order instead of racing their restart; and stopping
        // the group stops whatever the instance started itself.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = child.spawn()?;
    let mut copiers = Vec::with_capacity(2);
    if let Some(stdout) = child.stdout.take() {
        copiers.push(log_writer::copy_stamped(
            stdout,
            log.try_clone()?,
            instance.id.clone(),
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        copiers.push(log_writer::copy_stamped(stderr, log, instance.id.clone()));
    }
    Ok(Started { child, copiers })
}

/// Waits for the last lines of a child that ended to reach its log; not longer than
/// `COPY_MARGIN`, since a process it left behind may still hold its output open.
async fn finish_copying(copiers: Vec<JoinHandle<()>>) {
    let _ = tokio::time::timeout(COPY_MARGIN, futures_util::future::join_all(copiers)).await;
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
        move_off_a_taken_port(&instance);
        let started = Instant::now();
        let outcome = match spawn_child(&instance, &release, &context) {
            Ok(Started { mut child, copiers }) => {
                let pid = child.id();
                instance.set_process(pid);
                tracing::info!(instance = %instance.id, pid, port = instance.port(), "instance started");
                tokio::select! {
                    status = child.wait() => {
                        let outcome = status.map(|status| status.to_string()).unwrap_or_else(|error| error.to_string());
                        if let Some(pgid) = pid {
                            stop_leftovers(&instance, pgid).await;
                        }
                        finish_copying(copiers).await;
                        outcome
                    }
                    () = instance.stop.cancelled() => {
                        terminate(&mut child).await;
                        finish_copying(copiers).await;
                        instance.set_process(None);
                        tracing::info!(instance = %instance.id, "instance stopped");
                        return;
                    }
                }
            }
            Err(error) => format!("could not start: {error}"),
        };
        instance.set_process(None);
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

/// Another program may have taken the instance's port since it was picked (or while the
/// instance was down): the child could never bind it and would exit on every restart.
fn move_off_a_taken_port(instance: &Instance) {
    let current = instance.port();
    match port::for_next_start(current) {
        Ok(next) if next != current => {
            tracing::warn!(
                instance = %instance.id,
                taken = current,
                port = next,
                "port {current} is taken by another program; the instance moves to port {next}"
            );
            instance.set_port(next);
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(instance = %instance.id, "could not pick a new port: {error}");
        }
    }
}

/// The instance's own process exited by itself; what it started in its group (a shell's
/// background job, a worker) would outlive it and could hold its port or data. The group's
/// members keep the number `pgid` reserved, so it still names this group while any are found.
async fn stop_leftovers(instance: &Instance, pgid: u32) {
    if process::group_is_running(pgid) {
        tracing::warn!(instance = %instance.id, pgid, "the instance exited but left processes in its group; stopping them");
        process::stop_child_group(pgid, TERMINATE_GRACE).await;
    }
}

/// Stops the instance's whole process group: SIGTERM, then SIGKILL to whatever is left after
/// the grace period. Returns once the group is gone and the child is reaped.
async fn terminate(child: &mut Child) {
    // `None` once reaped: then nothing guarantees the number still names our group.
    let Some(pgid) = child.id() else {
        return;
    };
    let group = process::stop_child_group(pgid, TERMINATE_GRACE);
    let leader = async {
        if tokio::time::timeout(TERMINATE_GRACE + LEADER_MARGIN, child.wait())
            .await
            .is_err()
        {
            // Still running after the group got SIGKILL: it moved itself to another group.
            let _ = child.kill().await;
        }
    };
    tokio::join!(group, leader);
}

/// Polls the health path like a load balancer: `healthy_threshold` consecutive successes make
/// the instance ready, `unhealthy_threshold` consecutive failures take it out.
async fn check_health(instance: Arc<Instance>, health: HealthSettings, http: reqwest::Client) {
    let (mut successes, mut failures) = (0u8, 0u8);
    let mut ticker = tokio::time::interval(health.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = instance.stop.cancelled() => return,
        }
        // Built on every check: the port changes if another program took it.
        let url = format!("http://127.0.0.1:{}{}", instance.port(), health.path);
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
