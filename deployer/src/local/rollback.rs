//! `dashctl rollback` inside `dashctl up`: services back to their other color.

use tokio_util::sync::CancellationToken;

use super::api::ActionError;
use crate::events::{self, Events};
use crate::rollout::{self};

use super::control::{ControlState, failed, one_at_a_time, options, refuse_while_unfinished};

pub(super) async fn roll_back_services(
    state: &ControlState,
    services: &[String],
    events: &Events,
    cancel: &CancellationToken,
) -> Result<(), ActionError> {
    if let Some(unknown) = services
        .iter()
        .find(|service| !state.platform.services.contains_key(*service))
    {
        return Err(ActionError::Invalid {
            message: format!("no service `{unknown}` is running"),
        });
    }
    let _one_at_a_time = one_at_a_time(state, cancel).await?;
    refuse_while_unfinished(state)?;
    let rolled = rollout::rollback_all(
        state.platform.as_ref(),
        services,
        |service| options(&state.loaded, service, cancel, None),
        &|service, step| events.rollout_step(service, step),
    )
    .await
    .map_err(|error| failed(&error))?;
    events::rolled_back(events, rolled);
    Ok(())
}
