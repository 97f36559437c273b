//! `dashctl deploy`: roll the spec out blue/green, locally (through `dashctl up`) or on AWS.

use super::{
    Failure, change_on_aws, known_service, load, progress, reported, resolve_for_change,
    roll_out_locally, service_lacking,
};
use crate::aws;
use crate::cli::{DeployArgs, Environment};
use crate::events::Events;
use crate::local::RolloutRequest;

pub fn exec(args: DeployArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let format = args.progress.output;
    let events = progress(format);
    reported(format, deploy(args, aws_args, events))
}

fn deploy(args: DeployArgs, aws_args: &aws::Connection, events: Events) -> Result<(), Failure> {
    let mut loaded = load(&args.target.spec)?;
    for name in args
        .service
        .iter()
        .chain(args.images.iter().map(|(name, _)| name))
    {
        known_service(&loaded, name)?;
    }
    if resolve_for_change(args.target.env, &loaded, "deploy")? == Environment::Local {
        if !args.images.is_empty()
            || args.dry_run
            || args.bake.is_some()
            || args.overrides.any()
            || args.yes
        {
            return Err(Failure::Usage(
                "--image, --dry-run, --bake, --break-lock, --accept-live-traffic and --yes apply to AWS deploys; locally, change the spec and run `dashctl deploy`".to_owned(),
            ));
        }
        let request = RolloutRequest::Deploy {
            service: args.service,
            wait_until: args.wait_until,
        };
        return roll_out_locally(&loaded, request, &events);
    }
    for (name, image) in args.images {
        if let Some(definition) = loaded.spec.services.get_mut(&name) {
            definition.image = Some(image);
        }
    }
    if let Some(name) = service_lacking(&loaded, |definition| definition.image.is_none()) {
        return Err(Failure::Usage(format!(
            "service `{name}` has no image; set services.{name}.image or pass --image {name}=IMAGE"
        )));
    }
    let loaded = &loaded;
    let env = args.target.env;
    change_on_aws(loaded, aws_args, env, events, |aws, cancel| async move {
        let options = aws::DeployOptions {
            only_service: args.service,
            dry_run: args.dry_run,
            bake: args.bake,
            overrides: args.overrides,
            delete_databases: args
                .yes
                .then(|| aws::database::Deletion::new(args.skip_final_snapshot)),
            cancel,
            wait_until: args.wait_until,
        };
        aws::deploy(&aws, loaded, options).await
    })
}
