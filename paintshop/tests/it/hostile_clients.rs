//! What a client can make the server do, and what it cannot: buffer bodies it is not entitled
//! to, pile up work past the CPUs, hammer keys or the anonymous API, or store unbounded ids.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{
    Options, Running, TestDb, on_both_databases, raw_request, small_solve_request,
};

const SMALL_V1: &str = r#"{"colors":1,"customers":1,"demands":[[1,1,0]]}"#;

/// A /v1/ instance that is tiny on the wire but large to solve: a million colors.
const MANY_COLORS_V1: &str = r#"{"colors":1000000,"customers":1,"demands":[[1,1,0]]}"#;

async fn v1(paintshop: &Running, json: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(paintshop.url("/v1/"))
        .query(&[("input", json)]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("send")
}

/// Sends a small /v1/ request every 20 ms, 200 times at most, until one is answered `status`.
async fn small_v1_until(paintshop: &Running, status: u16) -> Option<reqwest::Response> {
    for _ in 0..200 {
        let response = v1(paintshop, SMALL_V1, &[]).await;
        if response.status() == status {
            return Some(response);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Sends the head of a `POST /v2/solve` with `headers` and reads the answer's status line
/// without sending any body.
async fn solve_status_before_body(paintshop: &Running, headers: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(paintshop.api)
        .await
        .expect("connect");
    let head = format!("POST /v2/solve HTTP/1.1\r\nHost: p\r\n{headers}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("send head");
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the server answers without waiting for the body")
        .expect("read");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_anonymous_body_is_refused_before_a_byte_of_it_is_read() {
    let paintshop = Running::start(Options::default()).await;
    let line = solve_status_before_body(
        &paintshop,
        "Content-Type: application/json\r\nContent-Length: 1000000000",
    )
    .await;
    assert!(line.starts_with("HTTP/1.1 401"), "{line}");
    paintshop.stop().await;
}

#[tokio::test]
async fn a_declared_or_streamed_body_over_the_limit_is_413_for_a_keyed_client() {
    let (paintshop, key) = Running::start_with_alice(Options::default().max_body_bytes(4096)).await;
    let headers = format!("Authorization: Bearer {key}\r\nContent-Length: 4097");
    let line = solve_status_before_body(&paintshop, &headers).await;
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    // No length announced: the body is cut off as it arrives.
    let chunk = "x".repeat(3000);
    let chunked = format!(
        "POST /v2/solve HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    let (status, body) = raw_request(paintshop.api, &chunked).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("4096 bytes"), "{body}");
    paintshop.stop().await;
}

#[tokio::test]
async fn large_solves_beyond_the_cpus_get_503_with_retry_after_while_small_ones_run() {
    let (paintshop, key) =
        Running::start_with_alice(Options::default().max_concurrent_solves(1)).await;
    // Another large solve holds the only slot.
    let held = paintshop.solve_slots.try_take().expect("a free slot");
    // Few likes but a million colors: counted as large.
    let busy = v1(&paintshop, MANY_COLORS_V1, &[]).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(busy.text().await.expect("body").contains("busy"));
    let likes: Vec<Value> = (1..=20_000)
        .map(|color| json!({"color": color, "finish": "glossy"}))
        .collect();
    let large_v2 = json!({"colors": 60_000, "customers": [{"likes": likes}]});
    let busy = paintshop.post_solve(Some(&key), &large_v2).await;
    assert_eq!(busy.status(), 503);
    let error: Value = busy.json().await.expect("json");
    assert_eq!(error["error"], "overloaded");
    // Small instances are solved inline and never wait for a slot.
    assert_eq!(
        paintshop
            .post_solve(Some(&key), &small_solve_request())
            .await
            .status(),
        200
    );
    drop(held);
    let solved = v1(&paintshop, MANY_COLORS_V1, &[]).await;
    assert_eq!(solved.status(), 200);
    assert_eq!(solved.text().await.expect("body").len(), 2 * 1_000_000 - 1);
    paintshop.stop().await;
}

#[tokio::test]
async fn requests_past_the_concurrency_cap_get_503_and_health_checks_still_answer() {
    let (paintshop, key) =
        Running::start_with_alice(Options::default().max_concurrent_requests(1)).await;
    // A keyed upload that never finishes holds the only request slot.
    let mut slow = tokio::net::TcpStream::connect(paintshop.api)
        .await
        .expect("connect");
    slow.write_all(
        format!("POST /v2/solve HTTP/1.1\r\nHost: p\r\nAuthorization: Bearer {key}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{")
            .as_bytes(),
    )
    .await
    .expect("send");
    let shed = small_v1_until(&paintshop, 503)
        .await
        .expect("a request past the cap is shed");
    assert_eq!(shed.headers()["retry-after"], "1");
    let ready = reqwest::get(paintshop.url("/readyz"))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    drop(slow);
    assert!(
        small_v1_until(&paintshop, 200).await.is_some(),
        "the slot is given back when the slow client leaves"
    );
    paintshop.stop().await;
}

#[tokio::test]
async fn anonymous_v1_is_limited_per_client_address_believing_only_trusted_proxies() {
    let untrusted =
        Running::start(Options::default().anonymous_rate_limit_per_minute(Some(1))).await;
    let first = v1(&untrusted, SMALL_V1, &[("x-forwarded-for", "192.0.2.1")]).await;
    assert_eq!(first.status(), 200);
    // A made-up X-Forwarded-For from an untrusted peer changes nothing.
    let second = v1(&untrusted, SMALL_V1, &[("x-forwarded-for", "192.0.2.2")]).await;
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    assert!(
        second
            .text()
            .await
            .expect("body")
            .contains("client address")
    );
    // A keyed client is limited by its key, not its address.
    let key = untrusted.add_user("alice").await;
    let keyed = v1(
        &untrusted,
        SMALL_V1,
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    assert_eq!(keyed.status(), 200);
    untrusted.stop().await;

    let behind_proxy = Running::start(
        Options::default()
            .anonymous_rate_limit_per_minute(Some(1))
            .trusted_proxies(vec!["127.0.0.0/8"]),
    )
    .await;
    for client in ["192.0.2.1", "192.0.2.2"] {
        let forwarded = format!("6.6.6.6, {client}");
        let response = v1(&behind_proxy, SMALL_V1, &[("x-forwarded-for", &forwarded)]).await;
        assert_eq!(response.status(), 200, "{client} has its own quota");
    }
    let again = v1(&behind_proxy, SMALL_V1, &[("x-forwarded-for", "192.0.2.1")]).await;
    assert_eq!(again.status(), 429);
    behind_proxy.stop().await;
}

#[tokio::test]
async fn repeated_bad_keys_lock_the_address_out_of_keyed_requests_for_the_minute() {
    let (paintshop, key) =
        Running::start_with_alice(Options::default().failed_keys_per_minute(3)).await;
    for attempt in 0..3 {
        let response = paintshop
            .post_solve(Some(&format!("psk_guess{attempt}")), &small_solve_request())
            .await;
        assert_eq!(response.status(), 401);
    }
    // Even the right key is refused now: nothing is looked up for this address.
    let refused = paintshop
        .post_solve(Some(&key), &small_solve_request())
        .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let error: Value = refused.json().await.expect("json");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too many invalid API keys"),
        "{error}"
    );
    // Anonymous /v1/ is not affected.
    let anonymous = v1(
        &paintshop,
        r#"{"colors":1,"customers":1,"demands":[[1,1,0]]}"#,
        &[],
    )
    .await;
    assert_eq!(anonymous.status(), 200);
    paintshop.stop().await;
}

async fn a_long_or_unprintable_request_id_is_replaced_and_never_stored(db: TestDb) {
    let paintshop = Running::start_on(Options::default(), &db).await;
    let key = paintshop.add_user("alice").await;
    let send = |id: String| {
        let key = key.clone();
        let url = paintshop.url("/v2/solve");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .header("x-request-id", id)
                .json(&small_solve_request())
                .send()
                .await
                .expect("send");
            let echoed = response.headers()["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_owned();
            let body: Value = response.json().await.expect("json");
            (
                echoed,
                body["request_id"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let (echoed, recorded) = send("trace-42".into()).await;
    assert_eq!(
        (echoed.as_str(), recorded.as_str()),
        ("trace-42", "trace-42")
    );
    let long = "a".repeat(service_kit::MAX_REQUEST_ID_LEN + 1);
    let (echoed, recorded) = send(long.clone()).await;
    assert_ne!(echoed, long);
    assert_eq!(echoed, recorded);
    assert!(echoed.len() <= service_kit::MAX_REQUEST_ID_LEN);
    let (echoed, _) = send("has space".into()).await;
    assert_ne!(echoed, "has space");
    let history = paintshop.store.history(1, None, 10).await.expect("history");
    assert!(
        history
            .iter()
            .all(|entry| entry.request_id.len() <= service_kit::MAX_REQUEST_ID_LEN),
        "{history:?}"
    );
    paintshop.stop().await;
}

async fn history_and_rate_windows_past_their_retention_are_deleted(db: TestDb) {
    let store = paintshop::store::Store::open(&db.target())
        .await
        .expect("store");
    let key = paintshop::api_keys::generate_key();
    let user = store
        .add_user("alice", &paintshop::api_keys::hash_key(&key), 0)
        .await
        .expect("user");
    let entry = |at_ms| paintshop::store::HistoryEntry {
        id: 0,
        at_ms,
        api: "v2".into(),
        request_id: "old".into(),
        colors: 1,
        customers: 1,
        pairs: 1,
        outcome: "solved".into(),
        mattes: Some(0),
        duration_us: 1,
    };
    let day_ms = 86_400_000;
    let now = service_kit::unix_millis();
    store
        .record(user.id, &entry(now - 3 * day_ms))
        .await
        .expect("old");
    store
        .record(user.id, &entry(now - day_ms / 2))
        .await
        .expect("recent");
    let old_window = paintshop::key_limits::window_start(now - 10 * 60_000);
    let current_window = paintshop::key_limits::window_start(now);
    for window in [old_window, current_window] {
        store.count_request(user.id, window).await.expect("count");
        assert_eq!(
            store.count_request(user.id, window).await.expect("count"),
            2
        );
    }
    let paintshop = Running::start_with_store(
        Options::default().history_retention(Duration::from_secs(86_400)),
        store,
        db,
    )
    .await;
    let mut remaining = Vec::new();
    for _ in 0..200 {
        remaining = paintshop
            .store
            .history(user.id, None, 10)
            .await
            .expect("history");
        if remaining.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(remaining[0].at_ms > now - day_ms);
    // The old window's count was deleted (counting starts again); the current one was kept.
    let count = |window| paintshop.store.count_request(user.id, window);
    assert_eq!(count(old_window).await.expect("count"), 1);
    assert_eq!(count(current_window).await.expect("count"), 3);
    paintshop.stop().await;
}

#[tokio::test]
async fn counts_that_would_overflow_are_a_400_not_a_crash() {
    let paintshop = Running::start(Options::default()).await;
    for json in [
        r#"{"colors":1,"customers":1,"demands":[[9223372036854775807,1,0]]}"#,
        r#"{"colors":1,"customers":1,"demands":[[-9223372036854775808]]}"#,
        r#"{"colors":9223372036854775807,"customers":-9223372036854775808,"demands":[]}"#,
        r#"{"colors":1,"customers":1,"demands":[[1,-9223372036854775808,1]]}"#,
    ] {
        let response = v1(&paintshop, json, &[]).await;
        assert_eq!(response.status(), 400, "{json}");
    }
    paintshop.stop().await;
}

on_both_databases!(
    a_long_or_unprintable_request_id_is_replaced_and_never_stored,
    history_and_rate_windows_past_their_retention_are_deleted,
);
