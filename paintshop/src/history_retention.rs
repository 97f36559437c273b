//! Deletes history older than the retention period, and per-key request counts of windows
//! long over, at start and every hour after, so the tables' sizes follow the request rate
//! rather than the service's age.

use std::time::Duration;

use crate::key_limits::{Clock, KEEP_MS};
use crate::store::Store;

const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(store: Store, retention: Duration, clock: Clock) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let now = clock();
        // Rate windows first: a test that sees the history trimmed sees both done.
        if let Err(error) = store
            .delete_rate_windows_before(now.saturating_sub(KEEP_MS))
            .await
        {
            tracing::warn!(%error, "deleting old rate-limit windows failed; retrying in an hour");
        }
        match store
            .delete_history_before(now.saturating_sub(retention_ms))
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "history past its retention deleted"),
            Err(error) => {
                tracing::warn!(%error, "deleting old history failed; retrying in an hour")
            }
        }
    }
}
