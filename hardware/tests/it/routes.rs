use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hardware::availability::Availability;
use hardware::snapshot::{Entry, Profile, Snapshot, SnapshotCell};
use hardware::{AppState, app};
use service_kit::testing::answer;

async fn get(state: &AppState, path: &str) -> (StatusCode, String, Option<String>) {
    let request = Request::get(path)
        .body(Body::empty())
        .expect("valid request");
    let (status, headers, body) = answer(app(state.clone()), request).await;
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, body, content_type)
}

fn entry(id: i64, provider: &str, name: &str, availability: Availability) -> Entry {
    Entry {
        profile: Profile {
            id,
            provider: provider.into(),
            name: name.into(),
        },
        availability,
        computed_at_ms: 1_700_000_000_000,
    }
}

#[tokio::test]
async fn before_the_first_snapshot_hardware_is_not_ready_and_says_why() {
    let state = AppState {
        cell: Arc::new(SnapshotCell::default()),
    };
    let (status, body, content_type) = get(&state, "/hardware/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    assert_eq!(error["error"], "availability not computed yet");
    assert_eq!(
        get(&state, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn legacy_endpoint_returns_the_exact_legacy_array_in_table_order() {
    let state = AppState {
        cell: Arc::new(SnapshotCell::default()),
    };
    state.cell.publish(Snapshot::new(vec![
        entry(1, "Amazon", "c5", Availability::High),
        entry(2, "Azure", "H16mr", Availability::Low),
    ]));
    let (status, body, content_type) = get(&state, "/hardware/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body,
        r#"[{"provider":"Amazon","name":"c5","availability":"HIGH"},{"provider":"Azure","name":"H16mr","availability":"LOW"}]"#
    );
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);

    let (status, body, _) = get(&state, "/api/availability").await;
    assert_eq!(status, StatusCode::OK);
    let detail: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(detail["profiles"][1]["name"], "H16mr");
    assert_eq!(
        detail["profiles"][1]["computed_at_ms"],
        1_700_000_000_000_i64
    );
    assert!(detail["profiles"][1]["age_seconds"].as_f64().expect("age") > 0.0);
}

#[tokio::test]
async fn metrics_expose_request_counts_by_route() {
    let state = AppState {
        cell: Arc::new(SnapshotCell::default()),
    };
    state.cell.publish(Snapshot::new(vec![entry(
        1,
        "Amazon",
        "c5",
        Availability::Medium,
    )]));
    get(&state, "/hardware/").await;
    let (status, body, _) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.lines()
            .any(|line| line.starts_with("http_requests_total")
                && line.contains(r#"route="/hardware/""#)
                && line.contains(r#"status="200""#)),
        "no request counter for /hardware/ in:\n{body}"
    );
    assert!(
        body.contains("http_request_duration_seconds_bucket"),
        "latency is a histogram"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_not_errors() {
    let state = AppState {
        cell: Arc::new(SnapshotCell::default()),
    };
    assert_eq!(get(&state, "/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&state, "/hardware").await.0,
        StatusCode::PERMANENT_REDIRECT
    );
}
