//! `dashctl rollout resume | abort` inside `dashctl up`: the rollout a `--wait-until` left.

use tokio_util::sync::CancellationToken;

use super::api::ActionError;
use super::platform::LocalPlatform;
use super::release::LocalRelease;
use crate::events::Events;
use crate::rollout::{self, JournalOf, WaitUntil};

use super::control::{ControlState, failed, one_at_a_time, options, reload};

/// The one unfinished rollout, taken with the guard that keeps every other rollout out;
/// none is a refusal to `verb`.
async fn unfinished<'a>(
    state: &'a ControlState,
    cancel: &CancellationToken,
    verb: &str,
) -> Result<(tokio::sync::MutexGuard<'a, ()>, JournalOf<LocalPlatform>), ActionError> {
    let guard = one_at_a_time(state, cancel).await?;
    match state.platform.journals().into_iter().next() {
        Some(journal) => Ok((guard, journal)),
        None => Err(nothing_unfinished(verb)),
    }
}

fn nothing_unfinished(verb: &str) -> ActionError {
    ActionError::Invalid {
        message: format!("no rollout is unfinished: there is nothing to {verb}"),
    }
}

pub(super) async fn resume_rollout(
    state: &ControlState,
    wait_until: Option<WaitUntil>,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<(), ActionError> {
    let (_one_at_a_time, journal) = unfinished(state, cancel, "resume").await?;
    let loaded = reload(state)?;
    let name = journal.service.clone();
    let release = loaded.spec.services.get(&name).and_then(|service| {
        LocalRelease::from_spec(
            service,
            &state.urls,
            &state.database_env,
            &loaded.state_dir_absolute(),
        )
    });
    let progress = events.rollout_steps(&name);
    let reached = rollout::resume(
        state.platform.as_ref(),
        journal,
        release.as_ref(),
        &options(&loaded, &name, cancel, wait_until),
        &progress,
    )
    .await
    .map_err(|error| failed(&error))?;
    events.reached(reached);
    Ok(())
}

pub(super) async fn abort_rollout(
    state: &ControlState,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<(), ActionError> {
    let (_one_at_a_time, journal) = unfinished(state, cancel, "abort").await?;
    let name = journal.service.clone();
    let progress = events.rollout_steps(&name);
    let aborted = rollout::abort(
        state.platform.as_ref(),
        journal,
        &options(&state.loaded, &name, cancel, None),
        &progress,
    )
    .await
    .map_err(|error| failed(&error))?;
    events.aborted(aborted);
    Ok(())
}
