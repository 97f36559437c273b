//! Which database a service uses: an explicit URL, else PostgreSQL from the standard `PG*`
//! environment when `PGHOST` is set, else the service's SQLite default.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::sqlite::SqliteConnectOptions;

use crate::redact_url;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "unsupported database URL {url:?}: use sqlite://FILE, postgres://USER:PASSWORD@HOST:PORT/DATABASE or the PG* environment"
    )]
    Unsupported { url: String },
    #[error("invalid database URL {url:?}")]
    Invalid {
        /// Redacted.
        url: String,
        #[source]
        source: sqlx::Error,
    },
}

/// A database to open. Its `Debug` and [`Target::describe`] never show a password.
#[derive(Clone)]
pub enum Target {
    Sqlite(SqliteConnectOptions, String),
    Postgres(PgConnectOptions),
}

impl Target {
    /// `explicit` (a `--database-url`/`DATABASE_URL`) when given; else PostgreSQL from
    /// `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`
    /// ... when `PGHOST` is set; else `default_sqlite`.
    pub fn resolve(explicit: Option<&str>, default_sqlite: &str) -> Result<Self, TargetError> {
        if let Some(url) = explicit {
            return Self::from_url(url);
        }
        if std::env::var_os("PGHOST").is_some_and(|host| !host.is_empty()) {
            return Ok(Self::Postgres(PgConnectOptions::new()));
        }
        Self::from_url(default_sqlite)
    }

    /// A `sqlite:` or `postgres://`/`postgresql://` URL. Parts a PostgreSQL URL leaves out
    /// come from the `PG*` environment, as with libpq.
    pub fn from_url(url: &str) -> Result<Self, TargetError> {
        let invalid = |source| TargetError::Invalid {
            url: redact_url(url),
            source,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url)
                .map(Self::Postgres)
                .map_err(invalid)
        } else if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)
                .map(|options| Self::Sqlite(options, url.to_owned()))
                .map_err(invalid)
        } else {
            Err(TargetError::Unsupported {
                url: redact_url(url),
            })
        }
    }

    /// For logs: the SQLite URL, or `postgres://USER@HOST:PORT/DATABASE (sslmode=...)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(_, url) => redact_url(url),
            Self::Postgres(options) => {
                let ssl = match options.get_ssl_mode() {
                    PgSslMode::Disable => "disable",
                    PgSslMode::Allow => "allow",
                    PgSslMode::Prefer => "prefer",
                    PgSslMode::Require => "require",
                    PgSslMode::VerifyCa => "verify-ca",
                    PgSslMode::VerifyFull => "verify-full",
                };
                format!(
                    "postgres://{}@{}:{}/{} (sslmode={ssl})",
                    options.get_username(),
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or(options.get_username()),
                )
            }
        }
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend_and_never_show_the_password() {
        let target =
            Target::from_url("postgresql://app:hunter2@db.internal:6432/main?sslmode=require")
                .expect("valid");
        assert!(matches!(target, Target::Postgres(_)));
        let shown = format!("{} {target:?}", target.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://app@db.internal:6432/main (sslmode=require)"),
            "{shown}"
        );
        assert!(matches!(
            Target::from_url("sqlite://x.db").expect("valid"),
            Target::Sqlite(..)
        ));
        let error = Target::from_url("mysql://root:hunter2@db/x").expect_err("unsupported");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(
            error.to_string().contains("mysql://root:***@db/x"),
            "{error}"
        );
    }

    #[test]
    fn an_explicit_url_wins_over_the_default() {
        let target =
            Target::resolve(Some("sqlite://explicit.db"), "sqlite://default.db").expect("valid");
        assert_eq!(target.describe(), "sqlite://explicit.db");
    }
}
