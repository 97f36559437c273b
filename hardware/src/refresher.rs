use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::compute_pool::ComputePool;
use crate::snapshot::{Entry, Profile, Snapshot, SnapshotCell, now_ms};
use crate::store::Store;

/// How the background refresh runs.
#[derive(Debug, Clone)]
pub struct RefreshSettings {
    /// At most this many computations run at once (each blocks a thread for its whole cost).
    pub workers: usize,
    /// A new round starts this long after the previous one started (at once if it ran longer).
    pub interval: Duration,
    /// The cost of one computation: the legacy 5 s in production; tests shorten it.
    pub compute_cost: Duration,
}

/// Recomputes every profile in the background, forever, publishing results as they come.
///
/// The request path never computes anything: it reads the last published snapshot. A round
/// reads the profile table (so added and removed profiles show up), runs the computations on a
/// bounded pool, persists each result, and republishes the snapshot after each result once a
/// first snapshot exists (so a value is served as soon as it is fresh).
pub struct Refresher {
    pub store: Store,
    pub cell: Arc<SnapshotCell>,
    pub settings: RefreshSettings,
}

impl Refresher {
    /// Publishes the persisted snapshot (if any) so a restarted service answers at once.
    pub async fn restore(&self) {
        match self.store.persisted_entries().await {
            Ok(entries) if !entries.is_empty() => {
                tracing::info!(
                    profiles = entries.len(),
                    "serving persisted snapshot while recomputing"
                );
                self.cell.publish(Snapshot::new(entries));
            }
            Ok(_) => tracing::info!("no persisted snapshot yet; first values after one round"),
            Err(error) => tracing::warn!(%error, "cannot read persisted snapshot; recomputing"),
        }
    }

    pub async fn run(self) {
        let pool = match ComputePool::new(self.settings.workers, self.settings.compute_cost) {
            Ok(pool) => pool,
            Err(error) => {
                tracing::error!(%error, "cannot start compute workers; serving the last snapshot only");
                return;
            }
        };
        let mut latest: HashMap<i64, Entry> = self
            .cell
            .load()
            .map(|snapshot| {
                snapshot
                    .entries
                    .iter()
                    .map(|entry| (entry.profile.id, entry.clone()))
                    .collect()
            })
            .unwrap_or_default();
        loop {
            let started = Instant::now();
            match self.store.profiles().await {
                Ok(profiles) => self.round(&pool, &profiles, &mut latest).await,
                Err(error) => tracing::warn!(%error, "cannot read profiles; keeping last snapshot"),
            }
            let took = started.elapsed();
            metrics::histogram!("hardware_refresh_duration_seconds").record(took.as_secs_f64());
            tracing::info!(took_ms = took.as_millis() as u64, "refresh round finished");
            tokio::time::sleep(self.settings.interval.saturating_sub(took)).await;
        }
    }

    async fn round(
        &self,
        pool: &ComputePool,
        profiles: &[Profile],
        latest: &mut HashMap<i64, Entry>,
    ) {
        latest.retain(|id, _| profiles.iter().any(|profile| profile.id == *id));
        metrics::gauge!("hardware_profiles").set(profiles.len() as f64);
        let mut computations: FuturesUnordered<_> = profiles
            .iter()
            .cloned()
            .map(|profile| async move {
                let availability = pool.compute(profile.clone()).await;
                availability.map(|availability| Entry {
                    profile,
                    availability,
                    computed_at_ms: now_ms(),
                })
            })
            .collect();
        while let Some(computed) = computations.next().await {
            let Ok(entry) = computed else {
                tracing::warn!("an availability computation failed; keeping its last value");
                continue;
            };
            metrics::counter!("hardware_computations_total", "availability" => entry.availability.as_str())
                .increment(1);
            if let Err(error) = self.store.persist(&entry).await {
                tracing::warn!(%error, "cannot persist availability; serving it from memory");
            }
            latest.insert(entry.profile.id, entry);
            if self.cell.is_published() {
                self.publish(profiles, latest);
            }
        }
        self.publish(profiles, latest);
    }

    fn publish(&self, profiles: &[Profile], latest: &HashMap<i64, Entry>) {
        let entries = profiles
            .iter()
            .filter_map(|profile| latest.get(&profile.id).cloned())
            .collect();
        self.cell.publish(Snapshot::new(entries));
    }
}

/// Keeps the `hardware_snapshot_age_seconds` gauge current between refreshes.
pub async fn export_snapshot_age(cell: Arc<SnapshotCell>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Some(oldest) = cell
            .load()
            .and_then(|snapshot| snapshot.oldest_computed_at_ms())
        {
            let age_seconds = (now_ms() - oldest).max(0) as f64 / 1000.0;
            metrics::gauge!("hardware_snapshot_age_seconds").set(age_seconds);
        }
    }
}
