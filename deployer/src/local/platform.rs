//! The local platform as the rollout engine sees it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::release::LocalRelease;
use super::service::ServiceRuntime;
use crate::rollout::{
    Color, Journal, Platform, PlatformError, PlatformResult, Readings, TEST_HEADER, Traffic,
};

pub struct LocalPlatform {
    pub services: BTreeMap<String, Arc<ServiceRuntime>>,
    /// Rollouts in progress or paused, by service: they live as long as `up` (and the
    /// instances they concern) does.
    journals: Mutex<BTreeMap<String, Journal<KeptRelease>>>,
}

/// What a color ran before a rollout (nothing, for a color that never ran).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRelease {
    pub release: Option<LocalRelease>,
}

impl LocalPlatform {
    pub fn new(services: BTreeMap<String, Arc<ServiceRuntime>>) -> Self {
        Self {
            services,
            journals: Mutex::new(BTreeMap::new()),
        }
    }

    /// The rollouts journaled now (at most one runs at a time; paused ones stay).
    pub fn journals(&self) -> Vec<Journal<KeptRelease>> {
        self.lock_journals().values().cloned().collect()
    }

    fn lock_journals(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Journal<KeptRelease>>> {
        self.journals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn service(&self, name: &str) -> PlatformResult<&Arc<ServiceRuntime>> {
        self.services.get(name).ok_or_else(|| {
            PlatformError::Failed(format!(
                "service `{name}` is not running here; restart `dashctl up` to add services"
            ))
        })
    }

    /// New colors start at the live color's size, never below the scaling minimum.
    fn starting_size(service: &ServiceRuntime) -> usize {
        let live = service.live_color().map_or(0, |color| service.count(color));
        live.max(service.scaling.min.max(1) as usize)
    }
}

impl Platform for LocalPlatform {
    type Release = LocalRelease;
    type Kept = KeptRelease;

    fn describe_release(&self, release: &LocalRelease) -> String {
        release.command.join(" ")
    }

    async fn current_release(&self, service: &str, color: Color) -> PlatformResult<KeptRelease> {
        Ok(KeptRelease {
            release: self.service(service)?.release(color),
        })
    }

    async fn live_color(&self, service: &str) -> PlatformResult<Option<Color>> {
        Ok(self.service(service)?.live_color())
    }

    async fn start_release(
        &self,
        service: &str,
        color: Color,
        release: &LocalRelease,
    ) -> PlatformResult {
        let runtime = self.service(service)?;
        let _guard = runtime.changes.lock().await;
        runtime.end_warm(color);
        // Whatever this color ran before is replaced, not mixed with the new release.
        runtime
            .scale(color, 0)
            .await
            .map_err(PlatformError::Failed)?;
        runtime.replace_release(color, Some(release.clone()));
        runtime
            .scale(color, Self::starting_size(runtime))
            .await
            .map_err(PlatformError::Failed)
    }

    async fn has_release(&self, service: &str, color: Color) -> PlatformResult<bool> {
        Ok(self.service(service)?.has_release(color))
    }

    async fn restore(&self, service: &str, color: Color) -> PlatformResult {
        let runtime = self.service(service)?;
        if !runtime.has_release(color) {
            return Err(PlatformError::Failed(format!(
                "{color} has never run {service}; there is no previous release to roll back to"
            )));
        }
        let _guard = runtime.changes.lock().await;
        runtime.end_warm(color);
        if runtime.count(color) > 0 {
            // Kept warm: its instances serve as they are; the autoscaler sizes it once live.
            return Ok(());
        }
        runtime
            .scale(color, Self::starting_size(runtime))
            .await
            .map_err(PlatformError::Failed)
    }

    async fn revert_release(
        &self,
        service: &str,
        color: Color,
        kept: &KeptRelease,
    ) -> PlatformResult {
        self.service(service)?
            .replace_release(color, kept.release.clone());
        Ok(())
    }

    async fn is_healthy(&self, service: &str, color: Color) -> PlatformResult<bool> {
        Ok(self.service(service)?.is_healthy(color))
    }

    async fn shift_traffic(&self, service: &str, to: Color, percent: u8) -> PlatformResult {
        let runtime = self.service(service)?;
        runtime.shift(to, percent);
        tracing::info!(service, color = %to, percent, "proxy now sends {percent}% of traffic to {to}");
        Ok(())
    }

    async fn traffic(&self, service: &str) -> PlatformResult<Option<Traffic>> {
        Ok(self.service(service)?.traffic())
    }

    async fn retarget_scaling(&self, service: &str, to: Color) -> PlatformResult {
        // The local autoscaler always scales the live color, so switching traffic already
        // re-pointed it; this only records the fact.
        self.service(service)?;
        tracing::info!(service, color = %to, "autoscaling now tracks {to}");
        Ok(())
    }

    async fn keep_warm(&self, service: &str, color: Color, window: Duration) -> PlatformResult {
        let runtime = self.service(service)?.clone();
        let ended = runtime.begin_warm(color, window);
        // `dashctl up` itself ends the window: it runs for as long as the instances do.
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(window) => {}
                () = ended.cancelled() => return,
            }
            let _guard = runtime.changes.lock().await;
            if !runtime.finish_warm(&ended) || runtime.live_color() == Some(color) {
                return;
            }
            tracing::info!(service = %runtime.name, %color, "keep_previous window over: retiring {color}");
            if let Err(error) = runtime.scale(color, 0).await {
                tracing::warn!(service = %runtime.name, %color, %error, "could not retire {color}");
            }
        });
        Ok(())
    }

    async fn retire(&self, service: &str, color: Color) -> PlatformResult {
        let runtime = self.service(service)?;
        let _guard = runtime.changes.lock().await;
        runtime.end_warm(color);
        runtime.scale(color, 0).await.map_err(PlatformError::Failed)
    }

    async fn open_test_route(&self, service: &str, color: Color) -> PlatformResult<String> {
        let runtime = self.service(service)?;
        runtime.set_test_route(Some(color));
        tracing::info!(service, %color, "test route open: {TEST_HEADER}: {color} reaches {color}");
        Ok(runtime.url())
    }

    async fn readings(
        &self,
        service: &str,
        color: Color,
        since: SystemTime,
    ) -> PlatformResult<Option<Readings>> {
        Ok(self.service(service)?.metrics(color).readings_since(since))
    }

    async fn close_test_route(&self, service: &str) -> PlatformResult {
        let runtime = self.service(service)?;
        if runtime.test_route().is_some() {
            runtime.set_test_route(None);
            tracing::info!(service, "test route closed");
        }
        Ok(())
    }

    async fn save_journal(&self, journal: &Journal<KeptRelease>) -> PlatformResult {
        self.lock_journals()
            .insert(journal.service.clone(), journal.clone());
        Ok(())
    }

    async fn clear_journal(&self, service: &str) -> PlatformResult {
        self.lock_journals().remove(service);
        Ok(())
    }
}
