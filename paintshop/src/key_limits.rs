//! Per-key rate limits that hold across instances: a fixed one-minute window per key, counted
//! in the database ([`Store::count_request`]), so two instances serving one key accept at most
//! the limit between them. A request is accepted while its window's count, itself included,
//! is at most the limit; a refused one is told to retry when the window ends.
//!
//! Per-address limits (anonymous `/v1/`, failed keys) stay in each instance's memory: they
//! protect that instance from one noisy address without a database write per anonymous
//! request, and the load balancer spreads an address's requests over the instances anyway.

use std::num::NonZeroU32;
use std::sync::Arc;

use crate::errors::ApiError;
use crate::store::Store;

/// The window length: limits are per minute.
pub const WINDOW_MS: i64 = 60_000;

/// Kept at least this long after their window ends, then deleted by the retention task.
pub const KEEP_MS: i64 = 2 * WINDOW_MS;

/// Milliseconds since the Unix epoch; replaceable so tests can hold time still.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(service_kit::unix_millis)
}

/// The start of the window holding `now_ms`.
pub fn window_start(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(WINDOW_MS)
}

/// Whole seconds from `now_ms` to the end of its window, at least 1.
pub fn seconds_to_window_end(now_ms: i64) -> u64 {
    // In 1..=WINDOW_MS, so never negative.
    let left_ms = u64::try_from(window_start(now_ms) + WINDOW_MS - now_ms).unwrap_or(1);
    left_ms.div_ceil(1000).max(1)
}

/// Counts a request of `user_id` at `now_ms`; `RateLimited` past `limit` in its window.
pub async fn admit(
    store: &Store,
    limit: NonZeroU32,
    user_id: i64,
    now_ms: i64,
) -> Result<(), ApiError> {
    let count = store.count_request(user_id, window_start(now_ms)).await?;
    if count > i64::from(limit.get()) {
        metrics::counter!("paintshop_rate_limited_total", "scope" => "key").increment(1);
        return Err(ApiError::RateLimited {
            scope: "API key",
            retry_after_secs: seconds_to_window_end(now_ms),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_minutes_and_retry_after_counts_to_their_end() {
        assert_eq!(window_start(120_000), 120_000);
        assert_eq!(window_start(179_999), 120_000);
        assert_eq!(seconds_to_window_end(120_000), 60);
        assert_eq!(seconds_to_window_end(120_001), 60);
        assert_eq!(seconds_to_window_end(178_500), 2);
        assert_eq!(seconds_to_window_end(179_999), 1);
    }
}
