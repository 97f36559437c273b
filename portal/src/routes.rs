use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::cache::{DashboardCache, Prepared};

pub fn routes(cache: DashboardCache) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/hardware", get(api_hardware))
        .with_state(cache)
}

async fn dashboard(State(cache): State<DashboardCache>, headers: HeaderMap) -> Response {
    respond(&cache.load().page, "text/html; charset=utf-8", &headers)
}

async fn api_hardware(State(cache): State<DashboardCache>, headers: HeaderMap) -> Response {
    respond(&cache.load().api, "application/json", &headers)
}

/// Serves a prepared body with validators: browsers revalidate (`no-cache`) and get a 304 when
/// nothing changed since their copy.
fn respond(prepared: &Prepared, content_type: &'static str, headers: &HeaderMap) -> Response {
    let cache_headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (ETAG, prepared.etag.clone()),
    ];
    if prepared.status == StatusCode::SERVICE_UNAVAILABLE {
        let retry = [(RETRY_AFTER, HeaderValue::from_static("2"))];
        return (prepared.status, cache_headers, retry, prepared.body.clone()).into_response();
    }
    if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|tags| etag_matches(tags, &prepared.etag))
    {
        return (StatusCode::NOT_MODIFIED, cache_headers).into_response();
    }
    (prepared.status, cache_headers, prepared.body.clone()).into_response()
}

fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(tags) = if_none_match.to_str() else {
        return false;
    };
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    tags.split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}
