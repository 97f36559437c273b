use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::Method;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets from 100 µs to 10 s: the services answer from memory in well under a
/// millisecond, and the legacy system took ~10 s, so both ends must be visible.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The process-wide Prometheus recorder. Installed on first use; every service in the process
/// (tests run several) shares it, because `metrics` allows only one global recorder.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map(|builder| builder.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program; then ours
            // still renders (empty) and the service keeps working.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            // Histograms need periodic upkeep or their memory grows without bound.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// The counter and histogram of one (route, method, status).
#[derive(Clone)]
struct RouteHandles {
    requests: Counter,
    duration: Histogram,
}

/// Per route template, the handles of each (method, status) seen on it.
type HandlesByRoute = HashMap<Box<str>, HashMap<(Method, u16), RouteHandles>>;

thread_local! {
    /// Handles already looked up by this worker thread, by route then (method, status). The
    /// recorder's own registry hashes the full label set behind a lock on every call; a
    /// service has a handful of routes, so each thread resolves each combination once and
    /// then records without allocating or sharing anything but the atomic metric itself.
    static HANDLES: RefCell<HandlesByRoute> = RefCell::new(HashMap::new());
}

fn handles(route: &str, method: &Method, status: u16) -> RouteHandles {
    HANDLES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(found) = cache
            .get(route)
            .and_then(|by_status| by_status.get(&(method.clone(), status)))
        {
            return found.clone();
        }
        let labels = [
            ("method", method.as_str().to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let created = RouteHandles {
            requests: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        };
        cache
            .entry(route.into())
            .or_default()
            .insert((method.clone(), status), created.clone());
        created
    })
}

/// Counts one request and its latency by route template (never the raw path, which would give
/// every distinct URL its own time series), method and status code.
pub fn record_request(route: &str, method: &Method, status: u16, elapsed: Duration) {
    let handles = handles(route, method, status);
    handles.requests.increment(1);
    handles.duration.record(elapsed.as_secs_f64());
}
