//! The database the services share: SQLite, the embedded default for one instance, or
//! PostgreSQL, which scaled-out instances share. Chosen at run time ([`Target::resolve`]);
//! one pool type ([`Pool`]) and one set of query strings for both, run through
//! [`with_pool!`].
//!
//! Why not sqlx's `Any` driver: its options can only be parsed from a URL, which loses what
//! the native options carry (SQLite's WAL mode and busy timeout; PostgreSQL's `PG*`
//! environment, startup options such as `statement_timeout`, TLS settings). The two native
//! pools behind one enum keep them, and the queries are still written once: [`with_pool!`]
//! compiles the same body for each.

mod pool;
mod redact;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use pool::{Backend, Error, Migrations, Pool, Settings};
pub use redact::redact_url;
pub use target::{Target, TargetError};

/// Re-exported so services name the same sqlx.
pub use sqlx;

/// Runs `$body` with `$pool` bound to the native pool (`&SqlitePool` or `&PgPool`): the body is
/// written once and compiled for each backend, so its SQL must be what both accept (`$n`
/// placeholders, `ON CONFLICT ... DO UPDATE`, `RETURNING`).
///
/// ```ignore
/// let users: Vec<User> = with_pool!(&self.pool, |pool| {
///     sqlx::query_as("SELECT id, name FROM users").fetch_all(pool).await?
/// });
/// ```
#[macro_export]
macro_rules! with_pool {
    ($pool:expr, |$native:ident| $body:expr) => {
        match $pool {
            $crate::Pool::Sqlite($native) => $body,
            $crate::Pool::Postgres($native) => $body,
        }
    };
}

/// The calling crate's `migrations/sqlite` and `migrations/postgres`, embedded at compile time,
/// as [`Pool::open`] takes them.
#[macro_export]
macro_rules! migrations {
    () => {
        $crate::Migrations {
            sqlite: {
                static SQLITE: $crate::sqlx::migrate::Migrator =
                    $crate::sqlx::migrate!("./migrations/sqlite");
                &SQLITE
            },
            postgres: {
                static POSTGRES: $crate::sqlx::migrate::Migrator =
                    $crate::sqlx::migrate!("./migrations/postgres");
                &POSTGRES
            },
        }
    };
}
