use std::sync::Arc;

use arc_swap::ArcSwapOption;
use serde::Serialize;

use crate::availability::Availability;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Profile {
    pub id: i64,
    pub provider: String,
    pub name: String,
}

/// One computed availability and when it was computed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub profile: Profile,
    pub availability: Availability,
    pub computed_at_ms: i64,
}

/// An immutable view of every profile's latest availability, in table order. The legacy JSON
/// body is rendered once here, when the snapshot is built, so `GET /hardware/` is a memcpy.
#[derive(Debug)]
pub struct Snapshot {
    pub entries: Vec<Entry>,
    pub legacy_json: String,
}

#[derive(Serialize)]
struct LegacyRow<'a> {
    provider: &'a str,
    name: &'a str,
    availability: &'a str,
}

impl Snapshot {
    pub fn new(entries: Vec<Entry>) -> Self {
        let rows: Vec<LegacyRow<'_>> = entries
            .iter()
            .map(|entry| LegacyRow {
                provider: &entry.profile.provider,
                name: &entry.profile.name,
                availability: entry.availability.as_str(),
            })
            .collect();
        // Serializing plain strings into a Vec cannot fail; fall back to an empty array anyway
        // rather than panic.
        let legacy_json = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned());
        Self {
            entries,
            legacy_json,
        }
    }

    /// When the oldest entry was computed: how stale the worst value served is.
    pub fn oldest_computed_at_ms(&self) -> Option<i64> {
        self.entries.iter().map(|entry| entry.computed_at_ms).min()
    }
}

/// The latest snapshot, swapped atomically by the refresher and read lock-free by handlers.
#[derive(Default)]
pub struct SnapshotCell(ArcSwapOption<Snapshot>);

impl SnapshotCell {
    pub fn load(&self) -> Option<Arc<Snapshot>> {
        self.0.load_full()
    }

    pub fn publish(&self, snapshot: Snapshot) {
        self.0.store(Some(Arc::new(snapshot)));
    }

    pub fn is_published(&self) -> bool {
        self.0.load().is_some()
    }
}

pub use service_kit::unix_millis as now_ms;
