//! A platform that records every call, fails the calls a test names, and can hang after a
//! journal write (as a killed dashctl would stop there).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::rollout::*;

#[derive(Default)]
pub(super) struct FakePlatform {
    pub(super) live: Mutex<Option<Color>>,
    /// Release each color runs (kept after retiring, like a task definition).
    pub(super) releases: Mutex<HashMap<Color, String>>,
    pub(super) running: Mutex<HashMap<Color, bool>>,
    /// The journal as last saved, and every stage saved in order.
    pub(super) journal: Mutex<Option<Journal<Option<String>>>>,
    pub(super) journaled: Mutex<Vec<String>>,
    /// Releases that never become healthy.
    pub(super) broken: Vec<String>,
    /// Releases that pass the first health checks, then fail (while baking).
    pub(super) flaky: Vec<String>,
    pub(super) checks: Mutex<u32>,
    pub(super) calls: Mutex<Vec<String>>,
    /// Calls (by their recorded prefix, e.g. "start green") that fail.
    pub(super) failing: Vec<&'static str>,
    /// The split the router reports, and how many more reads report the one before a shift.
    pub(super) traffic: Mutex<(Option<Traffic>, Option<Traffic>, u32)>,
    /// Reads of the router that still report the old split after each shift (u32::MAX: the
    /// router never applies it, as when someone keeps changing it back).
    pub(super) traffic_lag: u32,
    /// The color the test route reaches, while one is open.
    pub(super) route: Mutex<Option<Color>>,
    /// Every call in order, the test route's included ("open-route green", "close-route").
    pub(super) timeline: Mutex<Vec<String>>,
    /// After journaling this stage (as `Stage`'s Display says it), the rollout hangs for good,
    /// once: the test drops it there, as SIGKILL would stop a dashctl.
    pub(super) hang_after: Option<&'static str>,
    pub(super) hung: Mutex<bool>,
    /// What the load balancer measures for a color running each release (none: no metrics).
    pub(super) metrics: HashMap<String, Readings>,
}

impl FakePlatform {
    /// A platform on which `release` never becomes healthy.
    pub(super) fn never_healthy(release: &str) -> Self {
        FakePlatform {
            broken: vec![release.to_owned()],
            ..FakePlatform::default()
        }
    }
    /// A platform on which `release` passes its first two health checks, then fails.
    pub(super) fn turning_unhealthy(release: &str) -> Self {
        FakePlatform {
            flaky: vec![release.to_owned()],
            ..FakePlatform::default()
        }
    }
    /// Deploys `release` of portal, reporting nothing.
    pub(super) async fn release(
        &self,
        release: &str,
        options: &RolloutOptions,
    ) -> Result<Outcome, RolloutError> {
        match deploy(self, "portal", &release.to_owned(), options, &quiet).await? {
            Reached::Live(outcome) => Ok(outcome),
            Reached::Paused(paused) => panic!("paused unasked: {paused:?}"),
        }
    }
    /// Deploys `release` of portal, keeping every step it reports.
    pub(super) async fn release_reporting(
        &self,
        release: &str,
        options: &RolloutOptions,
    ) -> (Result<Reached, RolloutError>, Vec<Step>) {
        let steps = Mutex::new(Vec::new());
        let record = |step: Step| steps.lock().expect("lock").push(step);
        let reached = deploy(self, "portal", &release.to_owned(), options, &record).await;
        (reached, steps.into_inner().expect("lock"))
    }
    /// This platform with the calls starting with one of `failing` failing from now on.
    pub(super) fn then_failing(self, failing: Vec<&'static str>) -> Self {
        FakePlatform { failing, ..self }
    }
    pub(super) fn live(&self) -> Option<Color> {
        *self.live.lock().expect("lock")
    }
    pub(super) fn journal(&self) -> Option<Journal<Option<String>>> {
        self.journal.lock().expect("lock").clone()
    }
    pub(super) fn journaled(&self) -> Vec<String> {
        self.journaled.lock().expect("lock").clone()
    }
    /// Rolls portal back, reporting nothing.
    pub(super) async fn roll_back(&self) -> Result<Outcome, RolloutError> {
        rollback(self, "portal", &options(), &quiet).await
    }
    pub(super) fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
    /// The timeline without the journal's writes.
    pub(super) fn timeline(&self) -> Vec<String> {
        self.timeline
            .lock()
            .expect("lock")
            .iter()
            .filter(|call| !call.starts_with("journal"))
            .cloned()
            .collect()
    }
    /// Every call, the journal's writes included.
    pub(super) fn timeline_with_journal(&self) -> Vec<String> {
        self.timeline.lock().expect("lock").clone()
    }
    pub(super) fn route(&self) -> Option<Color> {
        *self.route.lock().expect("lock")
    }
    pub(super) fn record(&self, call: String) -> PlatformResult {
        self.calls.lock().expect("lock").push(call.clone());
        self.record_in_timeline(call)
    }
    /// Records `call` in the timeline only (the test route's calls), failing as `record` does.
    pub(super) fn record_in_timeline(&self, call: String) -> PlatformResult {
        let failed = self.failing.iter().any(|prefix| call.starts_with(prefix));
        self.timeline.lock().expect("lock").push(call.clone());
        if failed {
            Err(PlatformError::Failed(format!("{call} failed")))
        } else {
            Ok(())
        }
    }
}

impl Platform for FakePlatform {
    type Release = String;
    type Kept = Option<String>;

    fn describe_release(&self, release: &String) -> String {
        release.clone()
    }
    async fn current_release(&self, _: &str, color: Color) -> PlatformResult<Option<String>> {
        Ok(self.releases.lock().expect("lock").get(&color).cloned())
    }

    async fn live_color(&self, _: &str) -> PlatformResult<Option<Color>> {
        Ok(*self.live.lock().expect("lock"))
    }
    async fn start_release(&self, _: &str, color: Color, release: &String) -> PlatformResult {
        self.record(format!("start {color} {release}"))?;
        self.releases
            .lock()
            .expect("lock")
            .insert(color, release.clone());
        self.running.lock().expect("lock").insert(color, true);
        Ok(())
    }
    async fn has_release(&self, _: &str, color: Color) -> PlatformResult<bool> {
        Ok(self.releases.lock().expect("lock").contains_key(&color))
    }
    async fn restore(&self, _: &str, color: Color) -> PlatformResult {
        self.record(format!("restore {color}"))?;
        if !self.releases.lock().expect("lock").contains_key(&color) {
            return Err(PlatformError::Failed(format!("{color} never ran")));
        }
        self.running.lock().expect("lock").insert(color, true);
        Ok(())
    }
    async fn revert_release(&self, _: &str, color: Color, kept: &Option<String>) -> PlatformResult {
        self.record(format!("revert {color}"))?;
        let mut releases = self.releases.lock().expect("lock");
        match kept {
            Some(release) => releases.insert(color, release.clone()),
            None => releases.remove(&color),
        };
        Ok(())
    }
    async fn is_healthy(&self, _: &str, color: Color) -> PlatformResult<bool> {
        if self.failing.contains(&"health") {
            // Like an AWS call: the platform's message over the API's own error.
            return Err(PlatformError::Call(
                anyhow::anyhow!("throttled").context("health check API failed"),
            ));
        }
        let release = self
            .releases
            .lock()
            .expect("lock")
            .get(&color)
            .cloned()
            .unwrap_or_default();
        let running = self
            .running
            .lock()
            .expect("lock")
            .get(&color)
            .copied()
            .unwrap_or(false);
        let mut checks = self.checks.lock().expect("lock");
        *checks += 1;
        let flaky_failed = self.flaky.contains(&release) && *checks > 2;
        Ok(running && !self.broken.contains(&release) && !flaky_failed)
    }
    async fn shift_traffic(&self, _: &str, to: Color, percent: u8) -> PlatformResult {
        {
            let mut traffic = self.traffic.lock().expect("lock");
            let reported = traffic.0;
            *traffic = (reported, Some(Traffic::to(to, percent)), self.traffic_lag);
        }
        if percent == 100 {
            self.record(format!("shift {to}"))?;
            *self.live.lock().expect("lock") = Some(to);
        } else {
            self.record(format!("shift {percent}% {to}"))?;
        }
        Ok(())
    }
    async fn traffic(&self, _: &str) -> PlatformResult<Option<Traffic>> {
        let mut traffic = self.traffic.lock().expect("lock");
        if traffic.2 > 0 {
            traffic.2 = traffic.2.saturating_sub(u32::from(traffic.2 != u32::MAX));
            return Ok(traffic.0);
        }
        traffic.0 = traffic.1;
        Ok(traffic.0)
    }
    async fn retarget_scaling(&self, _: &str, to: Color) -> PlatformResult {
        self.record(format!("scale-on {to}"))
    }
    async fn keep_warm(&self, _: &str, color: Color, window: Duration) -> PlatformResult {
        self.record(format!("keep {color} {}ms", window.as_millis()))
    }
    async fn retire(&self, _: &str, color: Color) -> PlatformResult {
        self.record(format!("retire {color}"))?;
        self.running.lock().expect("lock").insert(color, false);
        Ok(())
    }
    async fn open_test_route(&self, _: &str, color: Color) -> PlatformResult<String> {
        self.record_in_timeline(format!("open-route {color}"))?;
        *self.route.lock().expect("lock") = Some(color);
        Ok("http://portal.test".to_owned())
    }
    async fn close_test_route(&self, _: &str) -> PlatformResult {
        self.record_in_timeline("close-route".to_owned())?;
        *self.route.lock().expect("lock") = None;
        Ok(())
    }
    async fn save_journal(&self, journal: &Journal<Option<String>>) -> PlatformResult {
        self.record_in_timeline(format!("journal {}", journal.stage))?;
        self.journaled
            .lock()
            .expect("lock")
            .push(journal.stage.to_string());
        *self.journal.lock().expect("lock") = Some(journal.clone());
        let hang = self.hang_after == Some(journal.stage.to_string().as_str())
            && !std::mem::replace(&mut *self.hung.lock().expect("lock"), true);
        if hang {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn clear_journal(&self, _: &str) -> PlatformResult {
        self.record_in_timeline("journal cleared".to_owned())?;
        *self.journal.lock().expect("lock") = None;
        Ok(())
    }
    async fn readings(
        &self,
        _: &str,
        color: Color,
        _since: std::time::SystemTime,
    ) -> PlatformResult<Option<Readings>> {
        if self.failing.contains(&"readings") {
            return Err(PlatformError::Failed("GetMetricData: throttled".into()));
        }
        let release = self.releases.lock().expect("lock").get(&color).cloned();
        Ok(release.and_then(|release| self.metrics.get(&release).copied()))
    }
}

pub(super) fn options() -> RolloutOptions {
    RolloutOptions {
        health_timeout: Duration::from_millis(50),
        canary: Vec::new(),
        bake: Duration::from_millis(30),
        auto_rollback: true,
        keep_previous: Duration::ZERO,
        traffic_timeout: Duration::from_millis(50),
        poll_interval: Duration::from_millis(5),
        cancel: CancellationToken::new(),
        smoke_test: None,
        wait_until: None,
        judge: None,
    }
}

pub(super) fn canary() -> RolloutOptions {
    RolloutOptions {
        canary: vec![
            (10, Duration::from_millis(10)),
            (50, Duration::from_millis(10)),
        ],
        ..options()
    }
}

pub(super) fn quiet(_: Step) {}
