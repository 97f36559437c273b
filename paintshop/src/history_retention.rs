//! Deletes history older than the retention period, at start and every hour after, so the
//! table's size follows the request rate over the period rather than the service's age.

use std::time::Duration;

use service_kit::unix_millis;

use crate::store::Store;

const EVERY: Duration = Duration::from_secs(3600);

pub async fn run(store: Store, retention: Duration) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let cutoff = unix_millis().saturating_sub(retention_ms);
        match store.delete_history_before(cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "history past its retention deleted"),
            Err(error) => {
                tracing::warn!(%error, "deleting old history failed; retrying in an hour")
            }
        }
    }
}
