use hardware::store::Store;

use std::time::Duration;

use service_db::Target;

use crate::harness::{TestDb, on_both_databases, settings};

async fn an_empty_database_is_seeded_with_the_legacy_profiles(db: TestDb) {
    let store = Store::open(&db.target()).await.expect("open");
    let names: Vec<(String, String)> = store
        .profiles()
        .await
        .expect("profiles")
        .into_iter()
        .map(|p| (p.provider, p.name))
        .collect();
    assert_eq!(
        names,
        [
            ("Amazon".into(), "c5".into()),
            ("Azure".into(), "H16mr".into())
        ]
    );

    // Reopening runs no seed again, and a deleted profile stays deleted.
    let first = store.profiles().await.expect("profiles")[0].id;
    store.remove_profile(first).await.expect("remove");
    store.close().await;
    let reopened = Store::open(&db.target()).await.expect("reopen");
    assert_eq!(reopened.profiles().await.expect("profiles").len(), 1);
}

#[tokio::test]
async fn a_legacy_database_keeps_its_own_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("hardware.db").display());
    {
        use sqlx::ConnectOptions;
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
        let mut connection = options
            .create_if_missing(true)
            .connect()
            .await
            .expect("connect");
        sqlx::query("CREATE TABLE hardware (id integer primary key, provider text not null, name text not null)")
            .execute(&mut connection)
            .await
            .expect("legacy schema");
        sqlx::query("INSERT INTO hardware (provider, name) VALUES ('Google', 'n2')")
            .execute(&mut connection)
            .await
            .expect("legacy row");
    }
    let store = Store::open(&Target::from_url(&url).expect("url"))
        .await
        .expect("open legacy db");
    let profiles = store.profiles().await.expect("profiles");
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].provider, "Google");
}

#[tokio::test]
async fn a_bad_database_url_is_a_clear_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let refresh = settings(Duration::from_millis(50), Duration::from_secs(60));
    let serving = hardware::serve(
        listener,
        "postgres-ish://nowhere",
        refresh,
        Default::default(),
        std::future::pending(),
    );
    let Err(error) = serving.await else {
        panic!("serving on a URL of no supported database must fail");
    };
    assert!(
        error.to_string().contains("postgres-ish://nowhere"),
        "{error}"
    );
}

on_both_databases!(an_empty_database_is_seeded_with_the_legacy_profiles);
