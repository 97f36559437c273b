use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

use crate::snapshot::{SnapshotCell, now_ms};

#[derive(Clone)]
pub struct AppState {
    pub cell: Arc<SnapshotCell>,
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/hardware/", get(legacy_hardware))
        // Flask redirected the slash-less path; old clients may rely on that.
        .route(
            "/hardware",
            get(|| async { Redirect::permanent("/hardware/") }),
        )
        .route("/api/availability", get(detailed_availability))
        .with_state(state)
}

fn not_ready() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({
            "error": "availability not computed yet",
            "detail": "the first background refresh is still running; retry shortly"
        })),
    )
        .into_response()
}

/// The legacy contract: a JSON array of `{provider, name, availability}` in table order.
async fn legacy_hardware(State(state): State<AppState>) -> Response {
    match state.cell.load() {
        Some(snapshot) => (
            [(CONTENT_TYPE, "application/json")],
            snapshot.legacy_json.clone(),
        )
            .into_response(),
        None => not_ready(),
    }
}

#[derive(Serialize)]
pub struct DetailedProfile<'a> {
    pub id: i64,
    pub provider: &'a str,
    pub name: &'a str,
    pub availability: &'a str,
    pub computed_at_ms: i64,
    pub age_seconds: f64,
}

#[derive(Serialize)]
pub struct DetailedAvailability<'a> {
    pub generated_at_ms: i64,
    pub profiles: Vec<DetailedProfile<'a>>,
}

/// The same values with when each was computed: what the portal shows as "updated N s ago".
async fn detailed_availability(State(state): State<AppState>) -> Response {
    let Some(snapshot) = state.cell.load() else {
        return not_ready();
    };
    let now = now_ms();
    let body = DetailedAvailability {
        generated_at_ms: now,
        profiles: snapshot
            .entries
            .iter()
            .map(|entry| DetailedProfile {
                id: entry.profile.id,
                provider: &entry.profile.provider,
                name: &entry.profile.name,
                availability: entry.availability.as_str(),
                computed_at_ms: entry.computed_at_ms,
                age_seconds: (now - entry.computed_at_ms).max(0) as f64 / 1000.0,
            })
            .collect(),
    };
    Json(body).into_response()
}
