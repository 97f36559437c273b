//! paintshop: the paint-batch optimizer service.
//!
//! - [`solver`]: linear-time Horn-satisfiability solver.
//! - [`api_v1`]: the legacy API, byte-compatible, reachable by unencoded request lines thanks
//!   to [`service_kit::request_line`].
//! - [`api_v2`]: the authenticated JSON API with per-user history and rate limits.
//! - [`admin_api`]: user management over HTTP behind an admin key.
//! - [`store`]: users, history and per-key request counts in SQLite or PostgreSQL.

pub mod admin_api;
pub mod admin_key;
pub mod admission;
pub mod api_keys;
pub mod api_v1;
pub mod api_v2;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod errors;
pub mod failed_keys;
pub mod history_retention;
pub mod json_body;
pub mod key_limits;
pub mod legacy_cases;
pub mod legacy_input;
pub mod openapi_security;
pub mod problem;
pub mod solver;
pub mod solving;
pub mod state;
pub mod store;
pub mod user_names;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use service_kit::{Readiness, ShutdownSignal, health_routes, instrument, probe_routes};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

pub use state::AppState;

/// Server settings beyond what [`AppState`] carries.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub request_timeout: Duration,
    /// Header-read timeout and connection cap of both listeners.
    pub connections: service_kit::ConnectionLimits,
    /// Requests handled at once on the API port; more get 503.
    pub max_concurrent_requests: usize,
    /// How long history entries are kept.
    pub history_retention: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connections: service_kit::ConnectionLimits::default(),
            max_concurrent_requests: 1024,
            history_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// The public API surface (port `--port`), for tests to drive in-process.
pub fn app(state: AppState, settings: &ServerSettings, ready: Readiness) -> Router {
    let trusted_proxies = state.trusted_proxies.clone();
    let slots = admission::RequestSlots::new(settings.max_concurrent_requests);
    let api = Router::new()
        .route("/v1/", get(api_v1::solve_v1))
        .route("/v2/solve", post(api_v2::solve_v2))
        .route("/v2/history", get(api_v2::history))
        .route("/v2/openapi.json", get(api_v2::openapi_document))
        .route("/crash", get(crash))
        .merge(admin_api::routes())
        .with_state(state)
        // Health checks stay outside the cap: a saturated instance is busy, not broken.
        .route_layer(axum::middleware::from_fn_with_state(
            slots,
            admission::admit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            trusted_proxies,
            client_ip::resolve,
        ))
        .merge(probe_routes(ready));
    instrument(api).layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        settings.request_timeout,
    ))
}

/// The monitoring surface (port `--monitor`): metrics stay off the public port.
pub fn monitor_app(ready: Readiness) -> Router {
    instrument(health_routes(ready))
}

/// Exits the process on purpose, so operators can watch the platform replace the instance.
async fn crash(State(state): State<AppState>) -> impl IntoResponse {
    if !state.enable_crash {
        return (StatusCode::NOT_FOUND, "not found\n");
    }
    tracing::error!("GET /crash: exiting on request (self-healing drill)");
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::process::exit(70);
    });
    (StatusCode::OK, "crashing on request\n")
}

/// Serves the API and the monitor until `shutdown` resolves, then drains both.
pub async fn serve(
    api_listener: TcpListener,
    monitor_listener: TcpListener,
    state: AppState,
    settings: ServerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let ready_flag = Arc::new(AtomicBool::new(true));
    let readiness_flag = ready_flag.clone();
    let ready: Readiness = Arc::new(move || {
        if readiness_flag.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err("database unreachable".into())
        }
    });
    // Readiness follows the database: an instance that cannot record history is taken out of
    // the load balancer instead of failing requests.
    let health_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let healthy = store.ping().await.is_ok();
            if healthy != ready_flag.swap(healthy, Ordering::Relaxed) {
                tracing::warn!(healthy, "database health changed");
            }
        }
    });
    let (anonymous_limiter, failed_keys) =
        (state.anonymous_limiter.clone(), state.failed_keys.clone());
    let limiter_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Some(anonymous) = &anonymous_limiter {
                anonymous.retain_recent();
            }
            failed_keys.forget_expired(std::time::Instant::now());
        }
    });
    let retention_task = tokio::spawn(history_retention::run(
        state.store.clone(),
        settings.history_retention,
        state.clock.clone(),
    ));

    let shutdown = ShutdownSignal::new(shutdown);
    let api = service_kit::server::serve(
        api_listener,
        app(state, &settings, ready.clone()),
        service_kit::RequestLines::Legacy,
        settings.connections,
        shutdown.wait(),
    );
    let monitor = service_kit::server::serve(
        monitor_listener,
        monitor_app(ready),
        service_kit::RequestLines::Strict,
        settings.connections,
        shutdown.wait(),
    );
    let (api_result, monitor_result) = tokio::join!(api, monitor);
    health_task.abort();
    limiter_task.abort();
    retention_task.abort();
    api_result.context("serving the API")?;
    monitor_result.context("serving the monitor")?;
    Ok(())
}
