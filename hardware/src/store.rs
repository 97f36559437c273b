use service_db::{Pool, Settings, Target, with_pool};

use crate::availability::Availability;
use crate::snapshot::{Entry, Profile};

/// Where the profiles live when no database is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hardware.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Open(#[from] service_db::Error),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// The profiles table and the persisted snapshot, in SQLite or PostgreSQL. Queries use only
/// SQL both accept (`$n` placeholders, `ON CONFLICT ... DO UPDATE`, `RETURNING`).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

#[derive(sqlx::FromRow)]
struct PersistedRow {
    id: i64,
    provider: String,
    name: String,
    availability: String,
    computed_at_ms: i64,
}

impl Store {
    /// Opens (creating a SQLite file if needed) the database and brings its schema up to date.
    pub async fn open(target: &Target) -> Result<Self, StoreError> {
        let settings = Settings {
            max_connections: 4,
            ..Settings::new("hardware")
        };
        let pool = Pool::open(target, &settings, service_db::migrations!()).await?;
        Ok(Self { pool })
    }

    /// All profiles, in table order (the order the legacy service answered in).
    pub async fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        const SQL: &str = "SELECT id, provider, name FROM hardware ORDER BY id";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL).fetch_all(pool).await?
        }))
    }

    /// The last persisted value of every profile that still exists, in table order.
    pub async fn persisted_entries(&self) -> Result<Vec<Entry>, StoreError> {
        const SQL: &str = "SELECT h.id, h.provider, h.name, a.availability, a.computed_at_ms \
             FROM hardware h JOIN availability a ON a.hardware_id = h.id ORDER BY h.id";
        let rows: Vec<PersistedRow> = with_pool!(&self.pool, |pool| {
            sqlx::query_as(SQL).fetch_all(pool).await?
        });
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            // A value this version does not know is skipped, not fatal: it is recomputed soon.
            let Some(availability) = Availability::parse(&row.availability) else {
                tracing::warn!(value = %row.availability, "ignoring unknown persisted availability");
                continue;
            };
            entries.push(Entry {
                profile: Profile {
                    id: row.id,
                    provider: row.provider,
                    name: row.name,
                },
                availability,
                computed_at_ms: row.computed_at_ms,
            });
        }
        Ok(entries)
    }

    pub async fn persist(&self, entry: &Entry) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO availability (hardware_id, availability, computed_at_ms) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (hardware_id) DO UPDATE SET \
             availability = excluded.availability, computed_at_ms = excluded.computed_at_ms";
        with_pool!(&self.pool, |pool| {
            sqlx::query(SQL)
                .bind(entry.profile.id)
                .bind(entry.availability.as_str())
                .bind(entry.computed_at_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Test and operator helper: adds a profile (picked up at the next refresh).
    pub async fn add_profile(&self, provider: &str, name: &str) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO hardware (provider, name) VALUES ($1, $2) RETURNING id";
        Ok(with_pool!(&self.pool, |pool| {
            sqlx::query_scalar(SQL)
                .bind(provider)
                .bind(name)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn remove_profile(&self, id: i64) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("DELETE FROM availability WHERE hardware_id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM hardware WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
