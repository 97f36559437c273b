//! `dashctl rollback` on AWS: services back to their other color, under the rollout lock.

use crate::rollout;
use crate::spec::Spec;

use super::model::Inventory;
use super::{Aws, Overrides, discover, lock, platform, rollout_options, traffic_record};

pub struct RollbackOptions {
    /// `--break-lock`, `--accept-live-traffic`.
    pub overrides: Overrides,
    /// Ctrl-C: abandons a rollback before its switch.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// Switches services back to their other color (scaling it up first), under the rollout lock.
/// Services with nothing to roll back to are skipped when several are asked for.
pub async fn rollback(
    aws: &Aws,
    spec: &Spec,
    services: &[String],
    options: &RollbackOptions,
) -> anyhow::Result<rollout::Rollbacks> {
    let break_lock = options.overrides.break_lock;
    lock::Lock::hold(
        aws,
        spec,
        "rollback",
        break_lock,
        lock::Journaled::Refuse,
        async |_| {
            let inventory = rollback_inventory(aws, spec, options).await?;
            let platform_ = platform::AwsPlatform::new(aws, spec, inventory.ids.clone());
            let rolled = rollout::rollback_all(
                &platform_,
                services,
                |service| rollout_options(spec, service, None, &options.cancel, None),
                &|service, step| aws.events.rollout_step(service, step),
            )
            .await?;
            Ok(rolled)
        },
    )
    .await
}

/// What exists, once it is clear that traffic is where dashctl left it.
async fn rollback_inventory(
    aws: &Aws,
    spec: &Spec,
    options: &RollbackOptions,
) -> anyhow::Result<Inventory> {
    let inventory = discover::inventory(aws, spec).await?;
    traffic_record::check(
        aws,
        spec,
        &inventory.resources,
        "roll back",
        options.overrides.accept_live_traffic,
    )
    .await?;
    Ok(inventory)
}
