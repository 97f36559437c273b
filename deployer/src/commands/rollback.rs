//! `dashctl rollback`: back to the previous color, for one service or every one that has an
//! earlier release.

use super::{
    Failure, change_on_aws, known_service, load, progress, reported, resolve_for_change,
    roll_out_locally,
};
use crate::aws;
use crate::cli::{Environment, RollbackArgs};
use crate::events::{self, Events};
use crate::local::RolloutRequest;

pub fn exec(args: RollbackArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let format = args.progress.output;
    let events = progress(format);
    reported(format, roll_back(args, aws_args, events))
}

/// Rolling back everything skips the services with nothing to roll back to; rolling back one
/// that has none fails.
fn roll_back(
    args: RollbackArgs,
    aws_args: &aws::Connection,
    events: Events,
) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    let services: Vec<String> = match args.service {
        Some(name) => {
            known_service(&loaded, &name)?;
            vec![name]
        }
        None => loaded.spec.services.keys().cloned().collect(),
    };
    if resolve_for_change(args.target.env, &loaded, "roll back")? == Environment::Local {
        if args.overrides.any() {
            return Err(Failure::Usage(
                "--break-lock and --accept-live-traffic apply to AWS rollbacks; `dashctl up` runs one rollout at a time and owns its proxy's weights".to_owned(),
            ));
        }
        return roll_out_locally(&loaded, RolloutRequest::Rollback { services }, &events);
    }
    let spec = &loaded.spec;
    let on_aws = |aws, cancel| async move {
        let options = aws::RollbackOptions {
            overrides: args.overrides,
            cancel,
        };
        aws::rollback(&aws, spec, &services, &options).await
    };
    let rolled = change_on_aws(&loaded, aws_args, args.target.env, events.clone(), on_aws)?;
    events::rolled_back(&events, rolled);
    Ok(())
}
