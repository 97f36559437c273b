//! Children a crashed `up` may leave behind: while it runs, `up` keeps the identities of its
//! instances and database servers in control.json; the next `up` stops those that still run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use super::control_file::{self, ControlFile, RecordedChild};
use super::database::LocalDatabase;
use super::process::ProcessIdentity;
use super::service::ServiceRuntime;
use crate::events::{Event, Events};

/// How long leftover instances get to exit on SIGTERM before their groups get SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

/// A previous `up` that is still running is an error; one that died (SIGKILL, power loss)
/// may have left instances behind, whose process groups are stopped here. Only processes that
/// are provably the recorded ones (same pid and start time) are signalled: a pid reused since
/// belongs to someone else.
pub async fn clean_up_previous_run(
    state_dir: &Path,
    me: ProcessIdentity,
    events: &Events,
) -> anyhow::Result<()> {
    let Some(previous) = ControlFile::read(state_dir).context("reading control.json")? else {
        return Ok(());
    };
    if let Some(running) = previous.running_up().filter(|running| *running != me) {
        bail!(
            "dashctl up is already running for {} ({}) as pid {}; stop it with `dashctl down -f {}`",
            previous.app,
            previous.environment,
            running.pid,
            previous.spec.display()
        );
    }
    let leftovers: Vec<ProcessIdentity> = previous
        .identified_children()
        .filter(ProcessIdentity::is_same_process)
        .collect();
    if !leftovers.is_empty() {
        events.emit(Event::StoppingLeftovers {
            count: leftovers.len(),
        });
        futures_util::future::join_all(
            leftovers
                .iter()
                .map(|leftover| leftover.stop_group(LEFTOVER_GRACE)),
        )
        .await;
    }
    let _ = std::fs::remove_file(control_file::path(state_dir));
    Ok(())
}

/// Keeps control.json's list of child processes current.
pub async fn track_children(
    mut file: ControlFile,
    state_dir: PathBuf,
    services: BTreeMap<String, Arc<ServiceRuntime>>,
    databases: Vec<Arc<LocalDatabase>>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        let mut children: Vec<RecordedChild> = services
            .values()
            .flat_map(|service| service.processes())
            .chain(databases.iter().filter_map(|database| database.process()))
            .map(RecordedChild::Identified)
            .collect();
        children.sort_unstable();
        if children != file.children {
            file.children = children;
            if let Err(error) = file.write(&state_dir) {
                tracing::warn!("could not update control.json: {error}");
            }
        }
    }
}
