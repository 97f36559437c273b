use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::availability::Availability;
use crate::snapshot::{Entry, Profile};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL {url:?}: {source}")]
    InvalidUrl { url: String, source: sqlx::Error },
    #[error("cannot open database {url:?}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// The profiles table and the persisted snapshot. Queries use only SQL that SQLite and
/// Postgres share (`$n` placeholders, `ON CONFLICT ... DO UPDATE`).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| StoreError::InvalidUrl {
                url: url.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// All profiles, in table order (the order the legacy service answered in).
    pub async fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let rows = sqlx::query("SELECT id, provider, name FROM hardware ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Profile {
                    id: row.try_get("id")?,
                    provider: row.try_get("provider")?,
                    name: row.try_get("name")?,
                })
            })
            .collect()
    }

    /// The last persisted value of every profile that still exists, in table order.
    pub async fn persisted_entries(&self) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.id, h.provider, h.name, a.availability, a.computed_at_ms \
             FROM hardware h JOIN availability a ON a.hardware_id = h.id ORDER BY h.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let stored: String = row.try_get("availability")?;
            // A value this version does not know is skipped, not fatal: it is recomputed soon.
            let Some(availability) = Availability::parse(&stored) else {
                tracing::warn!(value = %stored, "ignoring unknown persisted availability");
                continue;
            };
            entries.push(Entry {
                profile: Profile {
                    id: row.try_get("id")?,
                    provider: row.try_get("provider")?,
                    name: row.try_get("name")?,
                },
                availability,
                computed_at_ms: row.try_get("computed_at_ms")?,
            });
        }
        Ok(entries)
    }

    pub async fn persist(&self, entry: &Entry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO availability (hardware_id, availability, computed_at_ms) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (hardware_id) DO UPDATE SET \
             availability = excluded.availability, computed_at_ms = excluded.computed_at_ms",
        )
        .bind(entry.profile.id)
        .bind(entry.availability.as_str())
        .bind(entry.computed_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Test and operator helper: adds a profile (picked up at the next refresh).
    pub async fn add_profile(&self, provider: &str, name: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("INSERT INTO hardware (provider, name) VALUES ($1, $2) RETURNING id")
            .bind(provider)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn remove_profile(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM availability WHERE hardware_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM hardware WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
