use serde_json::{Value, json};

use crate::harness::{Options, Running, TestDb, on_both_databases};

fn five_color_request() -> Value {
    json!({"colors": 5, "customers": [
        {"likes": [{"color": 1, "finish": "matte"}]},
        {"likes": [{"color": 1, "finish": "glossy"}, {"color": 2, "finish": "glossy"}]},
        {"likes": [{"color": 5, "finish": "glossy"}]}
    ]})
}

async fn history(paintshop: &Running, key: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(paintshop.url(&format!("/v2/history{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("send");
    (
        response.status().as_u16(),
        response.json().await.expect("json"),
    )
}

async fn v2_requires_a_valid_key_and_explains_why_not(db: TestDb) {
    let paintshop = Running::start_on(Options::default(), &db).await;
    let response = paintshop.post_solve(None, &five_color_request()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "unauthorized");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("Authorization: Bearer")
    );

    let response = paintshop
        .post_solve(Some("psk_wrong"), &five_color_request())
        .await;
    assert_eq!(response.status(), 401);

    let key = paintshop.add_user("alice").await;
    paintshop
        .store
        .revoke_user("alice", 1)
        .await
        .expect("revoke");
    assert_eq!(paintshop.small_solve_status(&key).await, 401, "revoked key");
    paintshop.stop().await;
}

async fn solve_answers_json_with_finishes_mattes_and_request_id(db: TestDb) {
    let paintshop = Running::start_on(Options::default(), &db).await;
    let key = paintshop.add_user("alice").await;
    let response = paintshop
        .post_solve(Some(&key), &five_color_request())
        .await;
    assert_eq!(response.status(), 200);
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["solvable"], true);
    assert_eq!(
        body["finishes"],
        json!(["matte", "glossy", "glossy", "glossy", "glossy"])
    );
    assert_eq!(body["matte_count"], 1);
    assert_eq!(body["request_id"], header_id);

    let impossible = json!({"colors": 1, "customers": [
        {"likes": [{"color": 1, "finish": "matte"}]}, {"likes": [{"color": 1, "finish": "glossy"}]}]});
    let body: Value = paintshop
        .post_solve(Some(&key), &impossible)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["solvable"], false);
    assert_eq!(body["finishes"], Value::Null);

    for (bad, reason) in [
        (
            json!({"colors": 1, "customers": [{"likes": [{"color": 2, "finish": "matte"}]}]}),
            "outside 1..1",
        ),
        (
            json!({"colors": 1, "customers": [{"likes": [{"color": 1, "finish": "shiny"}]}]}),
            "unknown variant",
        ),
        (
            json!({"colors": 1, "customers": [], "extra": 1}),
            "unknown field",
        ),
        (
            json!({"colors": 0, "customers": [{"likes": []}]}),
            "colors must be between",
        ),
    ] {
        let response = paintshop.post_solve(Some(&key), &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.expect("json");
        assert!(
            body["message"].as_str().expect("message").contains(reason),
            "{bad} -> {body}"
        );
    }
    paintshop.stop().await;
}

async fn history_is_private_newest_first_paginated_and_includes_keyed_v1_calls(db: TestDb) {
    let paintshop = Running::start_on(Options::default(), &db).await;
    let alice = paintshop.add_user("alice").await;
    let bob = paintshop.add_user("bob").await;
    // The history below describes these: five colors, four likes, one matte.
    for _ in 0..3 {
        let response = paintshop
            .post_solve(Some(&alice), &five_color_request())
            .await;
        assert_eq!(response.status(), 200);
    }
    let v1 = reqwest::Client::new()
        .get(paintshop.url("/v1/"))
        .query(&[(
            "input",
            r#"{"colors":1,"customers":2,"demands":[[1,1,1],[1,1,0]]}"#,
        )])
        .bearer_auth(&alice)
        .send()
        .await
        .expect("send");
    assert_eq!(v1.text().await.expect("body"), "IMPOSSIBLE");
    paintshop
        .post_solve(Some(&bob), &five_color_request())
        .await;

    let (status, page) = history(&paintshop, &alice, "?limit=2").await;
    assert_eq!(status, 200);
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["api"], "v1", "newest first");
    assert_eq!(entries[0]["outcome"], "impossible");
    assert_eq!(entries[1]["api"], "v2");
    assert_eq!(entries[1]["mattes"], 1);
    assert_eq!(entries[1]["colors"], 5);
    assert_eq!(entries[1]["pairs"], 4);
    let next = page["next_before"].as_i64().expect("a next page");
    let (_, older) = history(&paintshop, &alice, &format!("?limit=2&before={next}")).await;
    assert_eq!(older["entries"].as_array().expect("entries").len(), 2);
    let oldest = older["next_before"]
        .as_i64()
        .expect("a full page points further back");
    assert!(oldest < next);
    let (_, last) = history(&paintshop, &alice, &format!("?limit=2&before={oldest}")).await;
    assert_eq!(last["entries"].as_array().expect("entries").len(), 0);
    assert_eq!(last["next_before"], Value::Null);

    let (_, bobs) = history(&paintshop, &bob, "").await;
    assert_eq!(
        bobs["entries"].as_array().expect("entries").len(),
        1,
        "bob sees only his own"
    );

    let (status, error) = history(&paintshop, &alice, "?limit=500").await;
    assert_eq!(status, 400);
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("between 1 and 100")
    );
    let (status, _) = history(&paintshop, &alice, "?limit=abc").await;
    assert_eq!(status, 400);
    paintshop.stop().await;
}

async fn each_key_is_rate_limited_with_retry_after(db: TestDb) {
    // Time stands still 15 s into a window: the test cannot straddle two windows.
    let now = 1_700_000_040_000 + 15_000;
    let paintshop = Running::start_on(
        Options::default()
            .rate_limit_per_minute(2)
            .clock(Some(std::sync::Arc::new(move || now))),
        &db,
    )
    .await;
    let alice = paintshop.add_user("alice").await;
    let bob = paintshop.add_user("bob").await;
    for _ in 0..2 {
        assert_eq!(paintshop.small_solve_status(&alice).await, 200);
    }
    let limited = paintshop
        .post_solve(Some(&alice), &five_color_request())
        .await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert_eq!(retry_after, 45, "seconds to the end of the window");
    assert_eq!(
        paintshop.small_solve_status(&bob).await,
        200,
        "bob has his own quota"
    );
    paintshop.stop().await;
}

async fn bodies_over_the_limit_get_413(db: TestDb) {
    let paintshop = Running::start_on(Options::default().max_body_bytes(1024), &db).await;
    let key = paintshop.add_user("alice").await;
    let likes: Vec<Value> = (1..=200)
        .map(|color| json!({"color": color, "finish": "glossy"}))
        .collect();
    let big = json!({"colors": 200, "customers": [{"likes": likes}]});
    assert_eq!(paintshop.post_solve(Some(&key), &big).await.status(), 413);
    paintshop.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_v2_and_the_admin_api() {
    let paintshop = Running::start(Options::default()).await;
    let document: Value = reqwest::get(paintshop.url("/v2/openapi.json"))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        document["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.")
    );
    assert!(document["paths"]["/v2/solve"]["post"].is_object());
    assert!(document["paths"]["/v2/history"]["get"].is_object());
    assert!(document["components"]["securitySchemes"]["api_key"].is_object());
    assert!(document["paths"]["/admin/v1/users"]["get"].is_object());
    assert!(document["paths"]["/admin/v1/users"]["post"].is_object());
    assert!(document["paths"]["/admin/v1/users/{name}"]["delete"].is_object());
    assert!(document["components"]["securitySchemes"]["admin_key"].is_object());
    assert!(document["components"]["schemas"]["SolveRequest"].is_object());
    paintshop.stop().await;
}

on_both_databases!(
    v2_requires_a_valid_key_and_explains_why_not,
    solve_answers_json_with_finishes_mattes_and_request_id,
    history_is_private_newest_first_paginated_and_includes_keyed_v1_calls,
    each_key_is_rate_limited_with_retry_after,
    bodies_over_the_limit_get_413,
);
