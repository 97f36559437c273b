//! Two instances on one database, as behind a load balancer: users, history and per-key
//! limits are the same whichever instance a request reaches.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::Value;

use crate::admin_api::{ADMIN_KEY, create_user, with_admin};
use crate::harness::{Options, Running, TestDb, on_both_databases};

/// Two instances on `db`. On PostgreSQL they start at once, migrating the same empty database
/// together; a SQLite file is for one instance, so there the second starts after the first.
async fn two_instances(db: &TestDb, options: impl Fn() -> Options) -> (Running, Running) {
    if db.server().is_some() {
        tokio::join!(
            Running::start_on(options(), db),
            Running::start_on(options(), db)
        )
    } else {
        let first = Running::start_on(options(), db).await;
        (first, Running::start_on(options(), db).await)
    }
}

async fn users_and_history_are_shared(db: TestDb) {
    let (a, b) = two_instances(&db, with_admin).await;
    let key = create_user(&a, "alice").await;
    assert_eq!(
        b.small_solve_status(&key).await,
        200,
        "a key made on A works on B"
    );
    assert_eq!(a.small_solve_status(&key).await, 200);
    let history: Value = reqwest::Client::new()
        .get(b.url("/v2/history"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        history["entries"].as_array().expect("entries").len(),
        2,
        "B lists what A and B recorded: {history}"
    );
    let revoked = reqwest::Client::new()
        .delete(b.url("/admin/v1/users/alice"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        a.small_solve_status(&key).await,
        401,
        "revoked on B, refused on A"
    );
    a.stop().await;
    b.stop().await;
}

async fn the_per_key_limit_holds_across_instances(db: TestDb) {
    const LIMIT: u32 = 5;
    // Both instances read one clock that moves only when the test moves it, so every request
    // below falls in the window the test chooses.
    let now = Arc::new(AtomicI64::new(1_700_000_040_000 + 30_000));
    let clock = {
        let now = now.clone();
        move || {
            let now = now.clone();
            Options::default()
                .rate_limit_per_minute(LIMIT)
                .clock(Some(Arc::new(move || now.load(Ordering::SeqCst))))
        }
    };
    let (a, b) = two_instances(&db, clock).await;
    let key = a.add_user("alice").await;
    let mut accepted = 0;
    for request in 0..2 * LIMIT {
        let instance = if request % 2 == 0 { &a } else { &b };
        match instance.small_solve_status(&key).await {
            200 => accepted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(accepted, LIMIT, "the limit is per key, not per instance");
    now.fetch_add(60_000, Ordering::SeqCst);
    assert_eq!(
        b.small_solve_status(&key).await,
        200,
        "a new window starts from zero"
    );
    assert_eq!(a.small_solve_status(&key).await, 200);
    a.stop().await;
    b.stop().await;
}

on_both_databases!(
    users_and_history_are_shared,
    the_per_key_limit_holds_across_instances
);
