use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal::cache::DashboardCache;
use portal::hardware_client::ProfileAvailability;
use portal::poller::Known;
use service_kit::testing::answer;

const NOW: i64 = 1_800_000_000_000;

fn profile(provider: &str, name: &str, availability: &str, age_ms: i64) -> ProfileAvailability {
    ProfileAvailability {
        provider: provider.into(),
        name: name.into(),
        availability: availability.into(),
        computed_at_ms: NOW - age_ms,
    }
}

fn known_legacy() -> Known {
    Known {
        profiles: Some(vec![
            profile("Amazon", "c5", "HIGH", 3_000),
            profile("Azure", "H16mr", "LOW", 7_000),
        ]),
        last_success_ms: Some(NOW - 1_000),
        last_error: None,
    }
}

async fn get(
    cache: &DashboardCache,
    path: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    answer(
        portal::app(cache.clone()),
        request.body(Body::empty()).expect("request"),
    )
    .await
}

#[tokio::test]
async fn page_keeps_the_legacy_lines_and_shows_badges_and_ages() {
    let cache = DashboardCache::new(known_legacy().render(NOW, Duration::from_secs(10)));
    let (status, headers, body) = get(&cache, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        body.contains("Amazon - c5: HIGH<br>Azure - H16mr: LOW"),
        "{body}"
    );
    assert!(
        body.contains(r#"<span class="badge HIGH">HIGH</span>"#),
        "{body}"
    );
    assert!(
        body.contains("updated 3 s ago") && body.contains("updated 7 s ago"),
        "{body}"
    );
    assert!(
        !body.contains("Showing last known values"),
        "fresh data has no stale notice"
    );
    assert_eq!(get(&cache, "/readyz", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn etag_revalidation_answers_304() {
    let cache = DashboardCache::new(known_legacy().render(NOW, Duration::from_secs(10)));
    let (_, headers, _) = get(&cache, "/", None).await;
    let etag = headers["etag"].to_str().expect("ascii etag").to_owned();
    assert_eq!(headers["cache-control"], "no-cache");
    let (status, _, body) = get(&cache, "/", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(get(&cache, "/", Some("\"other\"")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn old_data_gets_a_visible_stale_notice() {
    let mut known = known_legacy();
    known.last_success_ms = Some(NOW - 60_000);
    known.last_error =
        Some("error sending request for url (http://10.20.8.7:5001/hardware/): HTTP 502".into());
    let cache = DashboardCache::new(known.render(NOW, Duration::from_secs(10)));
    let (status, _, body) = get(&cache, "/", None).await;
    // Internal addresses and error text stay in the log, never on the public page or API.
    assert!(
        !body.contains("10.20.8.7") && !body.contains("502"),
        "{body}"
    );
    assert_eq!(status, StatusCode::OK, "last known values are still served");
    assert!(body.contains("Showing last known values"), "{body}");
    assert!(body.contains("has not answered for 60 s"), "{body}");
    assert!(body.contains("Amazon - c5: HIGH"), "{body}");
    let (_, _, api) = get(&cache, "/api/hardware", None).await;
    let api: serde_json::Value = serde_json::from_str(&api).expect("json");
    assert_eq!(api["stale"], true);
    assert_eq!(api["hardware_unavailable"], true);
    assert!(!api.to_string().contains("10.20.8.7"), "{api}");
    assert_eq!(api["profiles"][0]["age_seconds"], 3.0);
}

#[tokio::test]
async fn never_having_data_is_a_clear_503_page_not_a_500() {
    let known = Known {
        last_error: Some("hardware unreachable".into()),
        ..Known::default()
    };
    let cache = DashboardCache::new(known.render(NOW, Duration::from_secs(10)));
    let (status, headers, body) = get(&cache, "/", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "2");
    assert!(body.contains("Availability is not known yet"), "{body}");
    assert_eq!(
        get(&cache, "/readyz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn provider_names_are_escaped() {
    let known = Known {
        profiles: Some(vec![profile("<script>alert(1)</script>", "x&y", "HIGH", 0)]),
        last_success_ms: Some(NOW),
        last_error: None,
    };
    let cache = DashboardCache::new(known.render(NOW, Duration::from_secs(10)));
    let (_, _, body) = get(&cache, "/", None).await;
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt; - x&amp;y: HIGH"),
        "{body}"
    );
}
