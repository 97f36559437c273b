//! Plumbing every dashctl service needs, written once: logs, metrics, request ids, health
//! routes and graceful shutdown. Each service's `main.rs` stays a few lines long because of it.

pub mod clock;
pub mod health;
pub mod http_metrics;
pub mod layers;
pub mod request_id;
pub mod request_line;
pub mod server;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use clock::unix_millis;
pub use health::{Readiness, health_routes, probe_routes};
pub use http_metrics::{metrics_handle, record_request};
pub use layers::instrument;
pub use request_id::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER};
pub use request_line::ClientAddr;
pub use server::{ConnectionLimits, RequestLines};
pub use shutdown::{ShutdownSignal, shutdown_signal};
pub use telemetry::init_tracing;
