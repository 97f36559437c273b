//! `dashctl destroy` on AWS: everything tagged with this app and environment, listed, then
//! removed once confirmed.

use std::collections::BTreeMap;

use crate::plan;
use crate::spec::Spec;

use super::model::{self, Kind};
use super::progress::Progress;
use super::{Aws, apply, database, discover, lock, traffic_record};

/// Lists what `destroy` removes (everything tagged with this app and environment), and
/// removes it when `deletion` confirms it (saying what databases keep).
pub async fn destroy(
    aws: &Aws,
    spec: &Spec,
    deletion: Option<&database::Deletion>,
    break_lock: bool,
) -> anyhow::Result<Vec<plan::Change>> {
    let Some(deletion) = deletion else {
        let inventory = discover::inventory(aws, spec).await?;
        return Ok(plan::diff(&[], &inventory.resources));
    };
    // A destroy during a rollout would pull resources from under it.
    let journaled = lock::Journaled::Discard;
    lock::Lock::hold(aws, spec, "destroy", break_lock, journaled, async |_| {
        destroy_locked(aws, spec, deletion).await
    })
    .await
}

async fn destroy_locked(
    aws: &Aws,
    spec: &Spec,
    deletion: &database::Deletion,
) -> anyhow::Result<Vec<plan::Change>> {
    let inventory = discover::inventory(aws, spec).await?;
    let deletes = plan::diff(&[], &inventory.resources);
    // No listener left to have weights: the record goes too (a later deploy starts afresh).
    traffic_record::forget(aws, spec).await?;
    if deletes.is_empty() {
        return Ok(deletes);
    }
    let existing: BTreeMap<(Kind, String), &model::Resource> = inventory
        .resources
        .iter()
        .map(|resource| (resource.key(), resource))
        .collect();
    apply::delete_all(
        aws,
        spec,
        &deletes,
        &existing,
        &inventory.ids,
        deletion,
        &Progress::new(&aws.events),
    )
    .await?;
    Ok(deletes)
}
