use std::time::Duration;

use service_kit::unix_millis;

use crate::cache::{DashboardCache, Rendered};
use crate::config::PollerSettings;
use crate::hardware_client::{HardwareClient, ProfileAvailability};
use crate::page::View;

/// What the poller has learnt from hardware so far.
#[derive(Default)]
pub struct Known {
    pub profiles: Option<Vec<ProfileAvailability>>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

impl Known {
    pub fn render(&self, now_ms: i64, stale_after: Duration) -> Rendered {
        let stale = self.profiles.is_some()
            && self
                .last_success_ms
                .is_none_or(|success| now_ms - success > stale_after.as_millis() as i64);
        Rendered::from_view(&View {
            profiles: self.profiles.as_deref(),
            now_ms,
            last_success_ms: self.last_success_ms,
            stale,
            last_error: self.last_error.as_deref(),
        })
    }
}

/// Polls hardware forever and re-renders the cache after every poll, successful or not, so
/// "N s ago" and the stale notice stay true while requests never wait on hardware.
pub async fn poll_forever(client: HardwareClient, cache: DashboardCache, settings: PollerSettings) {
    let mut known = Known::default();
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match client.fetch().await {
            Ok(profiles) => {
                if known.last_error.take().is_some() {
                    tracing::info!("hardware reachable again");
                }
                metrics::gauge!("portal_profiles").set(profiles.len() as f64);
                known.profiles = Some(profiles);
                known.last_success_ms = Some(unix_millis());
                metrics::counter!("portal_hardware_polls_total", "outcome" => "ok").increment(1);
            }
            Err(error) => {
                let message = error.to_string();
                if known.last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(%error, "cannot refresh from hardware; serving last known values");
                }
                known.last_error = Some(message);
                metrics::counter!("portal_hardware_polls_total", "outcome" => "error").increment(1);
            }
        }
        let now = unix_millis();
        if let Some(success) = known.last_success_ms {
            metrics::gauge!("portal_data_age_seconds").set((now - success) as f64 / 1000.0);
        }
        cache.store(known.render(now, settings.stale_after));
    }
}
