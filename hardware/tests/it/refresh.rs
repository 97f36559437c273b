use std::time::Duration;

use hardware::store::Store;

use crate::harness::{
    RunningHardware, TestDb, eventually, legacy_rows, on_both_databases, settings,
};

const VALID: [&str; 3] = ["HIGH", "MEDIUM", "LOW"];

async fn computes_in_background_and_follows_table_changes(db: TestDb) {
    let url = db.url().to_owned();
    let hardware = RunningHardware::start(
        &url,
        settings(Duration::from_millis(50), Duration::from_millis(200)),
    )
    .await;
    let client = reqwest::Client::new();

    let rows = eventually(Duration::from_secs(10), || {
        legacy_rows(&client, hardware.url("/hardware/"))
    })
    .await;
    let names: Vec<_> = rows
        .iter()
        .map(|row| format!("{} - {}", row.provider, row.name))
        .collect();
    assert_eq!(names, ["Amazon - c5", "Azure - H16mr"]);
    assert!(
        rows.iter()
            .all(|row| VALID.contains(&row.availability.as_str())),
        "{rows:?}"
    );

    // The same database, opened beside the service, as an operator would.
    let store = Store::open(&db.target()).await.expect("open");
    let added = store.add_profile("Google", "n2").await.expect("add");
    eventually(Duration::from_secs(10), || async {
        let rows = legacy_rows(&client, hardware.url("/hardware/")).await?;
        (rows.len() == 3 && rows[2].name == "n2").then_some(())
    })
    .await;
    store.remove_profile(added).await.expect("remove");
    eventually(Duration::from_secs(10), || async {
        let rows = legacy_rows(&client, hardware.url("/hardware/")).await?;
        (rows.len() == 2).then_some(())
    })
    .await;

    let metrics = hardware.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("hardware_refresh_duration_seconds"),
        "{metrics}"
    );
    assert!(metrics.contains("hardware_computations_total"), "{metrics}");
    hardware.stop().await;
}

async fn a_restarted_service_serves_persisted_values_at_once(db: TestDb) {
    let url = db.url().to_owned();
    let client = reqwest::Client::new();
    let first = RunningHardware::start(
        &url,
        settings(Duration::from_millis(20), Duration::from_secs(60)),
    )
    .await;
    let before = eventually(Duration::from_secs(10), || {
        legacy_rows(&client, first.url("/hardware/"))
    })
    .await;
    first.stop().await;

    // The restarted (or replacing) instance's computation costs an hour: anything it serves
    // now was persisted, in the database every instance shares.
    let second = RunningHardware::start(
        &url,
        settings(Duration::from_secs(3600), Duration::from_secs(3600)),
    )
    .await;
    let ready = second.get("/readyz").await;
    assert_eq!(
        ready.status(),
        200,
        "ready at once from the persisted snapshot"
    );
    let after = legacy_rows(&client, second.url("/hardware/"))
        .await
        .expect("served at once");
    assert_eq!(before, after);
    let detail: serde_json::Value = second
        .get("/api/availability")
        .await
        .json()
        .await
        .expect("json");
    assert!(
        detail["profiles"][0]["computed_at_ms"]
            .as_i64()
            .expect("timestamp")
            > 0
    );
    // Stopping must not wait for the hour-long computation still running.
    second.stop().await;
}

on_both_databases!(
    computes_in_background_and_follows_table_changes,
    a_restarted_service_serves_persisted_values_at_once,
);
