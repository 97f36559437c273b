use std::str::FromStr;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url:?}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a user named {0:?} already exists")]
    DuplicateUser(String),
    #[error("no active user named {0:?}")]
    NoSuchUser(String),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One solve request as its owner sees it in the history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Cursor for pagination: pass it as `before` to get older entries.
    pub id: i64,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// `v1` or `v2`.
    pub api: String,
    pub request_id: String,
    pub colors: i64,
    pub customers: i64,
    /// Total (color, finish) likes in the instance.
    pub pairs: i64,
    /// `solved` or `impossible`.
    pub outcome: String,
    /// Matte batches in the answer, when solved.
    pub mattes: Option<i64>,
    pub duration_us: i64,
}

/// Users and request history. SQL is kept to what SQLite and Postgres share.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn add_user(
        &self,
        name: &str,
        key_hash: &str,
        now_ms: i64,
    ) -> Result<User, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO users (name, key_hash, created_at_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(key_hash)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok(row) => Ok(User {
                id: row.try_get("id")?,
                name: name.to_owned(),
                created_at_ms: now_ms,
                revoked_at_ms: None,
            }),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(StoreError::DuplicateUser(name.to_owned()))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, created_at_ms, revoked_at_ms FROM users ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(User {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    revoked_at_ms: row.try_get("revoked_at_ms")?,
                })
            })
            .collect()
    }

    pub async fn revoke_user(&self, name: &str, now_ms: i64) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE users SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// The active user holding the key with this hash, if any.
    pub async fn user_by_key_hash(&self, key_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at_ms, revoked_at_ms FROM users WHERE key_hash = $1 AND revoked_at_ms IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(User {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at_ms: row.try_get("created_at_ms")?,
                revoked_at_ms: row.try_get("revoked_at_ms")?,
            })
        })
        .transpose()
    }

    pub async fn record(&self, user_id: i64, entry: &HistoryEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO history (user_id, at_ms, api, request_id, colors, customers, pairs, outcome, mattes, duration_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(user_id)
        .bind(entry.at_ms)
        .bind(&entry.api)
        .bind(&entry.request_id)
        .bind(entry.colors)
        .bind(entry.customers)
        .bind(entry.pairs)
        .bind(&entry.outcome)
        .bind(entry.mattes)
        .bind(entry.duration_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's own entries, newest first, older than `before` when given.
    pub async fn history(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, api, request_id, colors, customers, pairs, outcome, mattes, duration_us \
             FROM history WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HistoryEntry {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    api: row.try_get("api")?,
                    request_id: row.try_get("request_id")?,
                    colors: row.try_get("colors")?,
                    customers: row.try_get("customers")?,
                    pairs: row.try_get("pairs")?,
                    outcome: row.try_get("outcome")?,
                    mattes: row.try_get("mattes")?,
                    duration_us: row.try_get("duration_us")?,
                })
            })
            .collect()
    }

    /// Deletes every history entry that arrived before `cutoff_ms`; returns how many.
    pub async fn delete_history_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM history WHERE at_ms < $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
