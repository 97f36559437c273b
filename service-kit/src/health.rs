use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::http_metrics::metrics_handle;

/// Tells `/readyz` whether the service can do useful work yet (for example: it has data).
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// `/healthz`, `/readyz` and `/metrics` (Prometheus text format).
pub fn health_routes(readiness: Readiness) -> Router {
    probe_routes(readiness).route("/metrics", get(render_metrics))
}

/// `/healthz` (the process is alive) and `/readyz` (it can serve: load balancers route to it
/// only then), for a port that must not expose metrics.
pub fn probe_routes(readiness: Readiness) -> Router {
    // Install the recorder now, not on the first scrape: metrics recorded before that are lost.
    let _ = metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    match readiness() {
                        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
                        Err(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {reason}\n"),
                        ),
                    }
                }
            }),
        )
}

async fn render_metrics() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
}
