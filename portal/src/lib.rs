//! portal: the public hardware-availability dashboard.
//!
//! A background [`poller`] asks hardware for the latest values and pre-renders the page and
//! its JSON into a [`cache::DashboardCache`]; request handlers only clone those bytes. A slow
//! or dead hardware service therefore never slows a page: it only makes the data older, which
//! the page says.

pub mod cache;
pub mod config;
pub mod hardware_client;
pub mod page;
pub mod poller;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use service_kit::{Readiness, health_routes, instrument, unix_millis};
use tokio::net::TcpListener;

pub use config::{Config, PollerSettings};

use cache::DashboardCache;
use hardware_client::HardwareClient;
use poller::{Known, poll_forever};

/// A cache holding the "no data yet" page, for a portal that has not polled yet.
pub fn empty_cache(settings: &PollerSettings) -> DashboardCache {
    DashboardCache::new(Known::default().render(unix_millis(), settings.stale_after))
}

/// The whole HTTP surface, for tests to drive in-process.
pub fn app(cache: DashboardCache) -> Router {
    let readiness_cache = cache.clone();
    let readiness: Readiness = Arc::new(move || {
        if readiness_cache.load().has_data {
            Ok(())
        } else {
            Err("no data from hardware yet".into())
        }
    });
    instrument(routes::routes(cache).merge(health_routes(readiness)))
}

/// Starts the background poller and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    settings: PollerSettings,
    limits: service_kit::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let client = HardwareClient::new(&settings.hardware_url, settings.timeout, settings.attempts)
        .context("building the HTTP client for hardware")?;
    let cache = empty_cache(&settings);
    let poller = tokio::spawn(poll_forever(client, cache.clone(), settings));
    let result = service_kit::server::serve(
        listener,
        app(cache),
        service_kit::RequestLines::Strict,
        limits,
        shutdown,
    )
    .await
    .context("serving HTTP");
    poller.abort();
    result
}
