//! Test databases for the services' suites (feature `testing`): every test that touches stored
//! data runs on both backends, through [`on_both_databases!`](crate::on_both_databases).

use std::sync::Arc;

/// A database for a test: a SQLite file in a temporary directory, or a database in a
/// PostgreSQL server of its own. Clones share it (two instances on one database).
#[derive(Clone)]
pub struct TestDb {
    url: String,
    keep: Arc<Keep>,
}

/// What must live as long as the database: dropping it deletes the directory or stops the
/// server.
enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Server(local_postgres::TempServer),
}

impl TestDb {
    /// `NAME.db` in a fresh temporary directory.
    pub fn sqlite(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            url: format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            ),
            keep: Arc::new(Keep::Dir(dir)),
        }
    }

    /// A fresh PostgreSQL server with an empty database `name`; `None` (the test is skipped,
    /// with a notice) when PostgreSQL is not installed, except on CI, where that fails the
    /// test with the one-line install hint.
    pub async fn postgres(name: &str) -> Option<Self> {
        let server = tokio::task::spawn_blocking(local_postgres::TempServer::start_or_skip)
            .await
            .expect("joins")
            .unwrap_or_else(|error| panic!("{error}"))?;
        server.create_database(name).expect("create database");
        Some(Self {
            url: server.url(name),
            keep: Arc::new(Keep::Server(server)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn target(&self) -> crate::Target {
        crate::Target::from_url(&self.url).expect("a test database URL")
    }

    /// The server, for tests that connect through the PG* environment.
    pub fn server(&self) -> Option<&local_postgres::TempServer> {
        match &*self.keep {
            Keep::Server(server) => Some(server),
            Keep::Dir(_) => None,
        }
    }
}

/// Runs each named `async fn(TestDb)` twice, as `NAME::sqlite` and `NAME::postgres`, on a
/// database called `$database`: `on_both_databases!("paintshop": test_a, test_b);`.
#[macro_export]
macro_rules! on_both_databases {
    ($database:literal: $($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::testing::TestDb::sqlite($database)).await
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::testing::TestDb::postgres($database).await {
                    super::$test(db).await
                }
            }
        }
    )*};
}
