use serde::Serialize;
use service_db::{Pool, Settings, Target, with_pool};

/// Where users and history live when no database is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://paintshop.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Open(#[from] service_db::Error),
    #[error("a user named {0:?} already exists")]
    DuplicateUser(String),
    #[error("no active user named {0:?}")]
    NoSuchUser(String),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One solve request as its owner sees it in the history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
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

/// Users, request history and per-key request counts, in SQLite (one instance) or
/// PostgreSQL (any number of instances sharing it). Every query is written once, in SQL both
/// accept, and run through [`with_pool!`].
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens (creating a SQLite file if needed) the database and brings its schema up to date.
    pub async fn open(target: &Target) -> Result<Self, StoreError> {
        let pool = Pool::open(
            target,
            &Settings::new("paintshop"),
            service_db::migrations!(),
        )
        .await?;
        Ok(Self { pool })
    }

    pub fn backend(&self) -> service_db::Backend {
        self.pool.backend()
    }

    pub async fn add_user(
        &self,
        name: &str,
        key_hash: &str,
        now_ms: i64,
    ) -> Result<User, StoreError> {
        const SQL: &str =
            "INSERT INTO users (name, key_hash, created_at_ms) VALUES ($1, $2, $3) RETURNING id";
        let inserted: Result<i64, sqlx::Error> = with_pool!(&self.pool, |pool| {
            sqlx::query_scalar(SQL)
                .bind(name)
                .bind(key_hash)
                .bind(now_ms)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok(id) => Ok(User {
                id,
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
        const SQL: &str = "SELECT id, name, created_at_ms, revoked_at_ms FROM users ORDER BY name";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL).fetch_all(pool).await?
        }))
    }

    /// Revokes the active user `name`; returns it as it is now.
    pub async fn revoke_user(&self, name: &str, now_ms: i64) -> Result<User, StoreError> {
        const SQL: &str = "UPDATE users SET revoked_at_ms = $1 \
             WHERE name = $2 AND revoked_at_ms IS NULL \
             RETURNING id, name, created_at_ms, revoked_at_ms";
        let revoked: Option<User> = with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL)
                .bind(now_ms)
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        revoked.ok_or_else(|| StoreError::NoSuchUser(name.to_owned()))
    }

    /// The active user holding the key with this hash, if any.
    pub async fn user_by_key_hash(&self, key_hash: &str) -> Result<Option<User>, StoreError> {
        const SQL: &str = "SELECT id, name, created_at_ms, revoked_at_ms FROM users \
             WHERE key_hash = $1 AND revoked_at_ms IS NULL";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL)
                .bind(key_hash)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Counts one request of `user_id` in the window starting at `window_start_ms` and
    /// returns the window's count so far, this request included. One statement, atomic on
    /// both backends, so instances sharing the database share the count.
    pub async fn count_request(
        &self,
        user_id: i64,
        window_start_ms: i64,
    ) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO rate_windows (user_id, window_start_ms, requests) \
             VALUES ($1, $2, 1) \
             ON CONFLICT (user_id, window_start_ms) \
             DO UPDATE SET requests = rate_windows.requests + 1 \
             RETURNING requests";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_scalar(SQL)
                .bind(user_id)
                .bind(window_start_ms)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Deletes the request counts of windows that started before `cutoff_ms`.
    pub async fn delete_rate_windows_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.delete_before(
            "DELETE FROM rate_windows WHERE window_start_ms < $1",
            cutoff_ms,
        )
        .await
    }

    pub async fn record(&self, user_id: i64, entry: &HistoryEntry) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO history (user_id, at_ms, api, request_id, colors, customers, pairs, outcome, mattes, duration_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        with_pool!(&self.pool, |pool| {
            sqlx::query(SQL)
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
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The user's own entries, newest first, older than `before` when given.
    pub async fn history(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        const SQL: &str = "SELECT id, at_ms, api, request_id, colors, customers, pairs, outcome, mattes, duration_us \
             FROM history WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL)
                .bind(user_id)
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Deletes every history entry that arrived before `cutoff_ms`; returns how many.
    pub async fn delete_history_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.delete_before("DELETE FROM history WHERE at_ms < $1", cutoff_ms)
            .await
    }

    /// Runs `delete`, whose one parameter is a cutoff in milliseconds; returns how many rows went.
    async fn delete_before(&self, delete: &'static str, cutoff_ms: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query(delete)
                .bind(cutoff_ms)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.pool.ping().await?)
    }
}
