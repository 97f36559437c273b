use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::page::{View, render};

/// A response rendered ahead of time: handlers only clone these bytes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub status: StatusCode,
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Prepared {
    fn new(status: StatusCode, body: String) -> Self {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            status,
            body: Bytes::from(body),
            etag,
        }
    }
}

/// The dashboard page and its JSON twin, rebuilt by the poller on every tick.
#[derive(Debug)]
pub struct Rendered {
    pub page: Prepared,
    pub api: Prepared,
    pub has_data: bool,
}

#[derive(Serialize)]
struct ApiProfile<'a> {
    provider: &'a str,
    name: &'a str,
    availability: &'a str,
    computed_at_ms: i64,
    age_seconds: f64,
}

#[derive(Serialize)]
struct ApiBody<'a> {
    stale: bool,
    rendered_at_ms: i64,
    last_success_ms: Option<i64>,
    /// Whether the last poll of hardware failed. Why stays in portal's log: error text names
    /// internal addresses and must not reach the public.
    hardware_unavailable: bool,
    profiles: Vec<ApiProfile<'a>>,
}

impl Rendered {
    pub fn from_view(view: &View<'_>) -> Self {
        let status = if view.profiles.is_some() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let api = ApiBody {
            stale: view.stale,
            rendered_at_ms: view.now_ms,
            last_success_ms: view.last_success_ms,
            hardware_unavailable: view.last_error.is_some(),
            profiles: view
                .profiles
                .unwrap_or_default()
                .iter()
                .map(|profile| ApiProfile {
                    provider: &profile.provider,
                    name: &profile.name,
                    availability: &profile.availability,
                    computed_at_ms: profile.computed_at_ms,
                    age_seconds: (view.now_ms - profile.computed_at_ms).max(0) as f64 / 1000.0,
                })
                .collect(),
        };
        let api_json = serde_json::to_string(&api).unwrap_or_else(|_| "{}".to_owned());
        Self {
            page: Prepared::new(status, render(view)),
            api: Prepared::new(status, api_json),
            has_data: view.profiles.is_some(),
        }
    }
}

#[derive(Clone)]
pub struct DashboardCache(Arc<ArcSwap<Rendered>>);

impl DashboardCache {
    pub fn new(initial: Rendered) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(initial)))
    }

    pub fn load(&self) -> Arc<Rendered> {
        self.0.load_full()
    }

    pub fn store(&self, rendered: Rendered) {
        self.0.store(Arc::new(rendered));
    }
}
