//! The admin API: off (404) without an admin key; 401 and a failed-key count for a wrong one;
//! create, list and revoke users; keys never in the logs.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::{Options, Running, TestDb, on_both_databases};

pub const ADMIN_KEY: &str = "admin-0123456789abcdef0123456789";

pub fn with_admin() -> Options {
    Options::default().admin_key(Some(ADMIN_KEY))
}

async fn admin(
    paintshop: &Running,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, paintshop.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `POST /admin/v1/users` with `body`, under the admin key.
async fn post_user(paintshop: &Running, body: Value) -> (u16, Value) {
    let path = "/admin/v1/users";
    admin(
        paintshop,
        reqwest::Method::POST,
        path,
        Some(ADMIN_KEY),
        Some(body),
    )
    .await
}

/// `GET /admin/v1/users`, under the admin key.
async fn list_users(paintshop: &Running) -> (u16, Value) {
    let path = "/admin/v1/users";
    admin(paintshop, reqwest::Method::GET, path, Some(ADMIN_KEY), None).await
}

/// `DELETE /admin/v1/users/NAME`, under the admin key.
async fn revoke_user(paintshop: &Running, name: &str) -> (u16, Value) {
    let path = format!("/admin/v1/users/{name}");
    admin(
        paintshop,
        reqwest::Method::DELETE,
        &path,
        Some(ADMIN_KEY),
        None,
    )
    .await
}

pub async fn create_user(paintshop: &Running, name: &str) -> String {
    let (status, body) = post_user(paintshop, json!({"name": name})).await;
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().expect("the new key").to_owned()
}

#[tokio::test]
async fn without_an_admin_key_the_admin_api_is_404_and_says_how_to_turn_it_on() {
    let paintshop = Running::start(Options::default()).await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/v1/users"),
        (reqwest::Method::POST, "/admin/v1/users"),
        (reqwest::Method::DELETE, "/admin/v1/users/alice"),
    ] {
        let (status, body) = admin(&paintshop, method, path, Some(ADMIN_KEY), None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"], "not_found");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains("--admin-key-file"),
            "{body}"
        );
    }
    paintshop.stop().await;
}

#[tokio::test]
async fn a_missing_or_wrong_admin_key_is_401_and_counts_as_a_failed_key() {
    let paintshop = Running::start(with_admin().failed_keys_per_minute(3)).await;
    let user_key = paintshop.add_user("alice").await;
    let get = reqwest::Method::GET;
    let path = "/admin/v1/users";
    let (status, body) = admin(&paintshop, get.clone(), path, None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = admin(&paintshop, get.clone(), path, Some("admin-wrong"), None).await;
    assert_eq!(status, 401);
    let (status, _) = admin(&paintshop, get.clone(), path, Some(&user_key), None).await;
    assert_eq!(status, 401, "a user's key is not the admin key");
    // Three failures from this address: even the right key is refused for the minute.
    let (status, body) = admin(&paintshop, get, path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, 429, "{body}");
    paintshop.stop().await;
}

async fn users_are_created_listed_and_revoked(db: TestDb) {
    let paintshop = Running::start_on(with_admin(), &db).await;
    let (status, created) = post_user(&paintshop, json!({"name": "  alice "})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "alice", "trimmed as by `users add`");
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("psk_") && key.len() == 68, "{key}");
    assert_eq!(paintshop.small_solve_status(&key).await, 200);

    let (status, body) = post_user(&paintshop, json!({"name": "alice"})).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    for bad in [
        json!({"name": ""}),
        json!({"name": "a\u{7}"}),
        json!({"name": "x".repeat(65)}),
    ] {
        let (status, body) = post_user(&paintshop, bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            body["message"],
            "a user name is 1 to 64 printable characters"
        );
    }
    let (status, _) = post_user(&paintshop, json!({"name": "bob", "admin": true})).await;
    assert_eq!(status, 400, "unknown fields are refused");
    create_user(&paintshop, "bob").await;

    let (status, list) = list_users(&paintshop).await;
    assert_eq!(status, 200);
    let users = list["users"].as_array().expect("users");
    let names: Vec<&str> = users
        .iter()
        .filter_map(|user| user["name"].as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(users.iter().all(|user| user["active"] == true));
    assert!(users.iter().all(|user| user.get("key").is_none()), "{list}");

    let (status, revoked) = revoke_user(&paintshop, "alice").await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at_ms"].is_i64());
    assert_eq!(
        paintshop.small_solve_status(&key).await,
        401,
        "revoked at once"
    );
    let (status, body) = revoke_user(&paintshop, "alice").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, _) = revoke_user(&paintshop, "nobody").await;
    assert_eq!(status, 404);
    let (_, list) = list_users(&paintshop).await;
    assert_eq!(list["users"][0]["active"], false);
    assert_eq!(list["users"][1]["active"], true);
    paintshop.stop().await;
}

on_both_databases!(users_are_created_listed_and_revoked);

/// Everything logged, at every level, while it is alive (this thread only: the test
/// runtime runs the server on the test's thread).
struct CapturedLogs {
    text: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn start() -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = text.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        Self {
            text,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .text
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
        .into_owned()
    }
}

#[tokio::test]
async fn neither_the_admin_key_nor_user_keys_reach_the_logs() {
    let logs = CapturedLogs::start();
    let paintshop = Running::start(with_admin()).await;
    let key = create_user(&paintshop, "alice").await;
    assert_eq!(paintshop.small_solve_status(&key).await, 200);
    let (status, _) = admin(
        &paintshop,
        reqwest::Method::GET,
        "/admin/v1/users",
        Some("admin-wrong-key-that-is-long-enough"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = revoke_user(&paintshop, "alice").await;
    assert_eq!(status, 200);
    paintshop.stop().await;
    let text = logs.text();
    assert!(
        text.contains("user created through the admin API"),
        "the capture works: {text}"
    );
    for secret in [
        ADMIN_KEY,
        key.as_str(),
        "admin-wrong-key-that-is-long-enough",
    ] {
        assert!(!text.contains(secret), "{secret} is in the logs:\n{text}");
    }
    // Not even the hash of a key.
    assert!(!text.contains(&paintshop::api_keys::hash_key(&key)));
}
