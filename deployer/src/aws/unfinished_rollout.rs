//! `dashctl rollout status | resume | abort` on AWS: the rollout journaled in the rollout lock
//! by a run that paused (`--wait-until`), could not undo itself, or died.

use super::lock::{self, Lock};
use super::model::{self, Kind};
use super::names::Names;
use super::platform::{AwsPlatform, KeptTaskDefinition};
use super::{Aws, State, discover, rollout_options, traffic_record};
use crate::rollout::{self, Journal, WaitUntil};
use crate::spec::Spec;

pub struct ResumeOptions {
    /// `--break-lock`, `--accept-live-traffic`.
    pub overrides: super::Overrides,
    /// Override the service's `deploy.bake`.
    pub bake: Option<std::time::Duration>,
    /// Stop again at this stage.
    pub wait_until: Option<WaitUntil>,
    /// Ctrl-C: abandons the rollout before its final switch.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// Continues the journaled rollout from its stage.
pub async fn resume(aws: &Aws, spec: &Spec, options: &ResumeOptions) -> anyhow::Result<()> {
    let break_lock = options.overrides.break_lock;
    Lock::hold(
        aws,
        spec,
        "resume",
        break_lock,
        lock::Journaled::Adopt,
        async |lock| resume_locked(aws, spec, options, lock).await,
    )
    .await
}

async fn resume_locked(
    aws: &Aws,
    spec: &Spec,
    options: &ResumeOptions,
    lock: &Lock,
) -> anyhow::Result<()> {
    let journal = adopted(lock).await?;
    let state = State::read(aws, spec).await?;
    // Traffic must be where dashctl left it, or where the journaled stage was putting it.
    traffic_record::check_resuming(
        aws,
        spec,
        &state.inventory.resources,
        "resume",
        options.overrides.accept_live_traffic,
        journal
            .traffic_being_set()
            .map(|traffic| (journal.service.as_str(), traffic)),
    )
    .await?;
    let family = Names::new(spec).family(&journal.service);
    let release = model::find(&state.wanted, Kind::TaskDefinition, &family);
    let platform_ = AwsPlatform::new(aws, spec, state.inventory.ids).journaling(lock);
    let service = journal.service.clone();
    let report = aws.events.rollout_steps(&service);
    let reached = rollout::resume(
        &platform_,
        journal,
        release,
        &rollout_options(
            spec,
            &service,
            options.bake,
            &options.cancel,
            options.wait_until,
        ),
        &report,
    )
    .await?;
    aws.events.reached(reached);
    Ok(())
}

/// Undoes the journaled rollout: traffic back on the color that served before it.
pub async fn abort(
    aws: &Aws,
    spec: &Spec,
    break_lock: bool,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    Lock::hold(
        aws,
        spec,
        "abort",
        break_lock,
        lock::Journaled::Adopt,
        async |lock| abort_locked(aws, spec, lock, cancel).await,
    )
    .await
}

async fn abort_locked(
    aws: &Aws,
    spec: &Spec,
    lock: &Lock,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let journal = adopted(lock).await?;
    // An abort puts traffic back wherever someone moved it: no drift check, and no desired
    // state to compute, only where things are.
    let inventory = discover::inventory(aws, spec).await?;
    let platform_ = AwsPlatform::new(aws, spec, inventory.ids).journaling(lock);
    let service = journal.service.clone();
    let report = aws.events.rollout_steps(&service);
    let aborted = rollout::abort(
        &platform_,
        journal,
        &rollout_options(spec, &service, None, cancel, None),
        &report,
    )
    .await?;
    aws.events.aborted(aborted);
    Ok(())
}

/// The journal the lock was taken over with, in the AWS platform's terms.
async fn adopted(lock: &Lock) -> anyhow::Result<Journal<KeptTaskDefinition>> {
    let stored = lock
        .journal()
        .await
        .ok_or_else(|| anyhow::anyhow!("the rollout lock carries no journal"))?;
    let journal = serde_json::to_value(stored)
        .and_then(serde_json::from_value)
        .map_err(|error| anyhow::anyhow!("the rollout journal cannot be read: {error}"))?;
    Ok(journal)
}
