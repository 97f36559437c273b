//! What the local proxy measures per color, as a load balancer does per target group: requests
//! answered, 5xx answers, and a latency histogram the p99 is read from. The proxy records every
//! request here, so recording is a few relaxed atomic adds: no lock, no allocation.
//!
//! Counters only grow. A window's readings are the difference of two snapshots: now, and the
//! last one marked at or before the window began. The local platform marks both colors whenever
//! it moves traffic, which is where every judged window (a canary step, the bake) begins.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::rollout::Readings;

/// Upper bounds of the latency buckets, in microseconds; a last bucket holds everything slower.
/// Roughly 25% apart, so a p99 read from them is at most a quarter above the true one.
const BOUNDS_MICROS: [u64; 40] = [
    500, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_500, 15_000, 20_000,
    25_000, 30_000, 40_000, 50_000, 60_000, 80_000, 100_000, 125_000, 150_000, 200_000, 250_000,
    300_000, 400_000, 500_000, 600_000, 800_000, 1_000_000, 1_250_000, 1_500_000, 2_000_000,
    2_500_000, 3_000_000, 4_000_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];
const BUCKETS: usize = BOUNDS_MICROS.len() + 1;

/// Marked snapshots kept for "since" lookups (a few per rollout).
const KEPT_SNAPSHOTS: usize = 1024;

/// One color's counters.
pub struct ColorMetrics {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU64; BUCKETS],
    snapshots: Mutex<VecDeque<(SystemTime, Snapshot)>>,
}

/// The counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    requests: u64,
    errors: u64,
    latency: [u64; BUCKETS],
}

impl Default for ColorMetrics {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            snapshots: Mutex::new(VecDeque::new()),
        }
    }
}

impl ColorMetrics {
    /// One answered request: `server_error` when it was a 5xx, `took` until its response head.
    pub fn record(&self, server_error: bool, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_MICROS.partition_point(|bound| *bound < micros);
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        if server_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency: std::array::from_fn(|bucket| self.latency[bucket].load(Ordering::Relaxed)),
        }
    }

    /// Keeps the counters as they are now, as where a window beginning now starts.
    pub fn mark(&self) {
        let snapshot = self.snapshot();
        let mut snapshots = self.lock_snapshots();
        if snapshots.len() == KEPT_SNAPSHOTS {
            snapshots.pop_front();
        }
        snapshots.push_back((SystemTime::now(), snapshot));
    }

    /// What was measured since `since`: from the last mark at or before it (else the first
    /// after it) to now. None without a mark, or without a request in that window.
    pub fn readings_since(&self, since: SystemTime) -> Option<Readings> {
        let now = self.snapshot();
        let base = {
            let snapshots = self.lock_snapshots();
            snapshots
                .iter()
                .rev()
                .find(|(taken, _)| *taken <= since)
                .or_else(|| snapshots.iter().find(|(taken, _)| *taken > since))
                .map(|(_, snapshot)| snapshot.clone())?
        };
        let window = now.minus(&base);
        (window.requests > 0).then(|| window.readings())
    }

    fn lock_snapshots(&self) -> std::sync::MutexGuard<'_, VecDeque<(SystemTime, Snapshot)>> {
        self.snapshots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Snapshot {
    fn minus(&self, earlier: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            latency: std::array::from_fn(|bucket| {
                self.latency[bucket].saturating_sub(earlier.latency[bucket])
            }),
        }
    }

    fn readings(&self) -> Readings {
        Readings {
            requests: self.requests,
            errors: self.errors,
            p99: self.p99(),
        }
    }

    /// The upper bound of the bucket holding the 99th percentile request (the slowest bucket
    /// reads as its lower bound, having none above).
    fn p99(&self) -> Option<Duration> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        // The smallest rank at or above 99% of the requests.
        let rank = total - total / 100;
        let mut seen = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let micros = BOUNDS_MICROS
                    .get(bucket)
                    .or(BOUNDS_MICROS.last())
                    .copied()
                    .unwrap_or_default();
                return Some(Duration::from_micros(micros));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_many(metrics: &ColorMetrics, count: usize, millis: u64, server_error: bool) {
        for _ in 0..count {
            metrics.record(server_error, Duration::from_millis(millis));
        }
    }

    #[test]
    fn p99_is_the_bucket_of_the_99th_percentile_request() {
        let metrics = ColorMetrics::default();
        record_many(&metrics, 990, 3, false);
        record_many(&metrics, 10, 700, false);
        // 990 of 1000 at 3ms: the 990th request is the 99th percentile's.
        assert_eq!(
            metrics.snapshot().p99(),
            Some(Duration::from_millis(3)),
            "exactly 99% fast"
        );
        record_many(&metrics, 1, 700, false);
        assert_eq!(metrics.snapshot().p99(), Some(Duration::from_millis(800)));
    }

    #[test]
    fn a_latency_on_a_bound_counts_in_that_bucket_and_slower_than_all_in_the_last() {
        let metrics = ColorMetrics::default();
        metrics.record(false, Duration::from_millis(500));
        assert_eq!(metrics.snapshot().p99(), Some(Duration::from_millis(500)));
        let slow = ColorMetrics::default();
        slow.record(false, Duration::from_secs(600));
        assert_eq!(slow.snapshot().p99(), Some(Duration::from_secs(60)));
        assert_eq!(ColorMetrics::default().snapshot().p99(), None);
    }

    #[test]
    fn readings_cover_only_the_window_since_its_mark() {
        let metrics = ColorMetrics::default();
        record_many(&metrics, 50, 900, true);
        assert_eq!(metrics.readings_since(SystemTime::now()), None, "no mark");
        metrics.mark();
        let since = SystemTime::now();
        assert_eq!(metrics.readings_since(since), None, "nothing since");
        record_many(&metrics, 30, 2, false);
        record_many(&metrics, 10, 2, true);
        let readings = metrics
            .readings_since(since)
            .expect("requests in the window");
        assert_eq!((readings.requests, readings.errors), (40, 10));
        assert_eq!(readings.p99, Some(Duration::from_millis(2)));
        // A later mark starts a later window; the earlier one still reads from its own.
        metrics.mark();
        let later = SystemTime::now();
        record_many(&metrics, 5, 2, false);
        assert_eq!(metrics.readings_since(later).map(|r| r.requests), Some(5));
        assert_eq!(metrics.readings_since(since).map(|r| r.requests), Some(45));
    }
}
