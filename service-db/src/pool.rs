//! Connecting, migrating and checking either backend.

use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteJournalMode, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use crate::Target;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to {target}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating {target} failed")]
    Migrate {
        target: String,
        #[source]
        source: MigrateError,
    },
}

/// How a service uses its database.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Shown in PostgreSQL's `pg_stat_activity` (unless `PGAPPNAME` says otherwise).
    pub application_name: &'static str,
    pub max_connections: u32,
    /// How long a query waits for a free connection (or a new one to be made) before it
    /// fails: a database that does not answer becomes errors, not a pile of waiting requests.
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this. Migrations are exempt.
    pub statement_timeout: Duration,
    /// How long SQLite waits for another writer's lock.
    pub sqlite_busy_timeout: Duration,
}

impl Settings {
    pub fn new(application_name: &'static str) -> Self {
        Self {
            application_name,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(15),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The schema of each backend: [`crate::migrations!`] embeds a crate's `migrations/sqlite` and
/// `migrations/postgres`.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to either backend; queries go through [`crate::with_pool!`].
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    /// Connects and brings the schema up to date. Instances starting together are safe: on
    /// PostgreSQL sqlx's migrator holds an advisory lock while it migrates, so one instance
    /// applies each migration and the others wait for it, then find it applied; on SQLite
    /// the migration runs in a transaction behind the file's write lock.
    pub async fn open(
        target: &Target,
        settings: &Settings,
        migrations: Migrations,
    ) -> Result<Self, Error> {
        let described = target.describe();
        let connect_error = |source| Error::Connect {
            target: described.clone(),
            source,
        };
        let migrate_error = |source| Error::Migrate {
            target: described.clone(),
            source,
        };
        match target {
            Target::Sqlite(options, _) => {
                let options = options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(settings.sqlite_busy_timeout);
                let pool = connect_pool(settings, options)
                    .await
                    .map_err(connect_error)?;
                migrations.sqlite.run(&pool).await.map_err(migrate_error)?;
                Ok(Self::Sqlite(pool))
            }
            Target::Postgres(options) => {
                let options = with_application_name(options.clone(), settings);
                // Migrations on a connection of their own, without the statement timeout:
                // waiting for another instance's migration or building an index may take
                // longer than any request should.
                let mut migrating = connect_within(settings.acquire_timeout, &options)
                    .await
                    .map_err(connect_error)?;
                migrations
                    .postgres
                    .run_direct(&mut migrating)
                    .await
                    .map_err(migrate_error)?;
                let _ = migrating.close().await;
                let timeout_ms = settings.statement_timeout.as_millis().to_string();
                let options = options.options([
                    ("statement_timeout", timeout_ms.as_str()),
                    ("idle_in_transaction_session_timeout", timeout_ms.as_str()),
                ]);
                let pool = connect_pool(settings, options)
                    .await
                    .map_err(connect_error)?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// One round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        crate::with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
        })
    }

    pub async fn close(&self) {
        crate::with_pool!(self, |pool| pool.close().await)
    }
}

/// A pool of `settings.max_connections`, each wait for one bounded by `settings.acquire_timeout`.
async fn connect_pool<Db: sqlx::Database>(
    settings: &Settings,
    options: <Db::Connection as Connection>::Options,
) -> Result<sqlx::Pool<Db>, sqlx::Error> {
    PoolOptions::<Db>::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_with(options)
        .await
}

fn with_application_name(options: PgConnectOptions, settings: &Settings) -> PgConnectOptions {
    if options.get_application_name().is_some() {
        options
    } else {
        options.application_name(settings.application_name)
    }
}

/// One connection, or an error after `limit`, as a pool bounds its connections.
async fn connect_within(
    limit: Duration,
    options: &PgConnectOptions,
) -> Result<sqlx::PgConnection, sqlx::Error> {
    tokio::time::timeout(limit, options.connect())
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {limit:?}"),
            )))
        })
}
