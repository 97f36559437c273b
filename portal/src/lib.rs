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
use service_kit::{Readiness, health_routes, instrument, probe_routes, unix_millis};
use tokio::net::TcpListener;

pub use config::{Config, PollerSettings};

use cache::DashboardCache;
use hardware_client::HardwareClient;
use poller::{Known, poll_forever};

/// A cache holding the "no data yet" page, for a portal that has not polled yet.
pub fn empty_cache(settings: &PollerSettings) -> DashboardCache {
    DashboardCache::new(Known::default().render(unix_millis(), settings.stale_after))
}

fn readiness(cache: &DashboardCache) -> Readiness {
    let cache = cache.clone();
    Arc::new(move || {
        if cache.load().has_data {
            Ok(())
        } else {
            Err("no data from hardware yet".into())
        }
    })
}

/// The public HTTP surface, for tests to drive in-process: the page, its JSON and the probes
/// a load balancer needs. No metrics here: they go to the monitor port.
pub fn app(cache: DashboardCache) -> Router {
    let probes = probe_routes(readiness(&cache));
    instrument(routes::routes(cache).merge(probes))
}

/// The monitor port: probes and Prometheus `/metrics`, for operators and scrapers only.
pub fn monitor_app(cache: &DashboardCache) -> Router {
    health_routes(readiness(cache))
}

/// Starts the background poller and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    monitor: TcpListener,
    settings: PollerSettings,
    limits: service_kit::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let client = HardwareClient::new(&settings.hardware_url, settings.timeout, settings.attempts)
        .context("building the HTTP client for hardware")?;
    let cache = empty_cache(&settings);
    let poller = tokio::spawn(poll_forever(client, cache.clone(), settings));
    let shutdown = service_kit::ShutdownSignal::new(shutdown);
    let public = service_kit::server::serve(
        listener,
        app(cache.clone()),
        service_kit::RequestLines::Strict,
        limits,
        shutdown.wait(),
    );
    let monitoring = service_kit::server::serve(
        monitor,
        monitor_app(&cache),
        service_kit::RequestLines::Strict,
        limits,
        shutdown.wait(),
    );
    let (public, monitoring) = tokio::join!(public, monitoring);
    let result = public
        .context("serving HTTP")
        .and(monitoring.context("serving the monitor port"));
    poller.abort();
    result
}
