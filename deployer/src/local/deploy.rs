//! `dashctl deploy` inside `dashctl up`: every changed service (or the one asked for) rolled out
//! blue/green through the engine, one rollout at a time.

use tokio_util::sync::CancellationToken;

use super::api::ActionError;
use super::release::LocalRelease;
use crate::events::{Event, Events};
use crate::rollout::{self, Aftermath, WaitUntil};

use super::control::{
    ControlState, failed, one_at_a_time, options, refuse_while_unfinished, reload,
};

pub(super) async fn deploy_services(
    state: &ControlState,
    service: Option<String>,
    wait_until: Option<WaitUntil>,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<(), ActionError> {
    let loaded = reload(state)?;
    let names: Vec<String> = match &service {
        Some(name) if !loaded.spec.services.contains_key(name) => {
            return Err(ActionError::Invalid {
                message: format!("the spec has no service `{name}`"),
            });
        }
        Some(name) => vec![name.clone()],
        None => loaded.spec.services.keys().cloned().collect(),
    };
    let _one_at_a_time = one_at_a_time(state, cancel).await?;
    refuse_while_unfinished(state)?;
    let mut releases = Vec::new();
    for name in names {
        let Some(runtime) = state.platform.services.get(&name) else {
            return Err(ActionError::Failed {
                message: format!(
                    "service `{name}` was added to the spec after `dashctl up` started; restart it to add services"
                ),
                aftermath: Aftermath::Failed,
            });
        };
        let Some(release) = LocalRelease::from_spec(
            &loaded.spec.services[&name],
            &state.urls,
            &state.database_env,
            &loaded.state_dir_absolute(),
        ) else {
            return Err(ActionError::Invalid {
                message: format!("service `{name}` has no `local` section"),
            });
        };
        // Deploying everything skips what already runs; naming a service redeploys it.
        if service.is_none() && runtime.live_release().as_deref() == Some(&release) {
            events.emit(Event::Unchanged { service: name });
            continue;
        }
        releases.push((name, release));
    }
    if wait_until.is_some() && releases.len() > 1 {
        let names: Vec<&str> = releases.iter().map(|(name, _)| name.as_str()).collect();
        return Err(ActionError::Invalid {
            message: format!(
                "--wait-until stops one service's rollout, but this deploy rolls out {}; pick one with --service",
                names.join(", ")
            ),
        });
    }
    let deployed = releases.len();
    rollout::deploy_all(
        state.platform.as_ref(),
        releases,
        |name| options(&loaded, name, cancel, wait_until),
        &|name, step| events.rollout_step(name, step),
        |reached| {
            events.reached(reached);
        },
    )
    .await
    .map_err(|error| failed(&error))?;
    if deployed == 0 {
        events.emit(Event::NothingToDeploy);
    }
    Ok(())
}
