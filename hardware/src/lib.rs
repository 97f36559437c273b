//! hardware: the internal availability service.
//!
//! Each availability costs 5 s of blocking work (the legacy contract). That work runs only in
//! the background [`refresher::Refresher`], on a bounded pool; requests read the latest
//! [`snapshot::Snapshot`] from memory. The snapshot is persisted, so a restart serves at once.

pub mod availability;
pub mod compute_pool;
pub mod config;
pub mod refresher;
pub mod routes;
pub mod snapshot;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use service_kit::{Readiness, health_routes, instrument};
use tokio::net::TcpListener;

pub use config::Config;
pub use routes::AppState;

use refresher::{RefreshSettings, Refresher, export_snapshot_age};
use snapshot::SnapshotCell;
use store::Store;

/// The whole HTTP surface, for tests to drive in-process.
pub fn app(state: AppState) -> Router {
    let cell = state.cell.clone();
    let readiness: Readiness = Arc::new(move || {
        if cell.is_published() {
            Ok(())
        } else {
            Err("no availability snapshot yet".into())
        }
    });
    instrument(routes::routes(state).merge(health_routes(readiness)))
}

/// Opens the database at `database_url`, restores the persisted snapshot, starts the
/// background refresh and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    database_url: &str,
    settings: RefreshSettings,
    limits: service_kit::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let database = service_db::Target::from_url(database_url)?;
    serve_database(listener, &database, settings, limits, shutdown).await
}

/// [`serve`] with the database already chosen (see [`Config::database`]).
pub async fn serve_database(
    listener: TcpListener,
    database: &service_db::Target,
    settings: RefreshSettings,
    limits: service_kit::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::open(database)
        .await
        .context("opening the hardware database")?;
    let cell = Arc::new(SnapshotCell::default());
    let refresher = Refresher {
        store: store.clone(),
        cell: cell.clone(),
        settings,
    };
    refresher.restore().await;
    let refresh_task = tokio::spawn(refresher.run());
    let age_task = tokio::spawn(export_snapshot_age(cell.clone()));

    let result = service_kit::server::serve(
        listener,
        app(AppState { cell }),
        service_kit::RequestLines::Strict,
        limits,
        shutdown,
    )
    .await
    .context("serving HTTP");
    refresh_task.abort();
    age_task.abort();
    store.close().await;
    result
}
