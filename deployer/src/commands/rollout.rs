//! `dashctl rollout status | resume | abort`: the rollout a run left unfinished (paused by
//! `--wait-until`, killed, or unable to undo itself), locally or on AWS.

use super::{
    Failure, change_on_aws, connect, implicit_aws, load, progress, reported, resolve,
    resolve_for_change, roll_out_locally, runtime,
};
use crate::aws;
use crate::cli::{
    AbortArgs, Environment, OutputFormat, ResumeArgs, RolloutCommand, RolloutStatusArgs,
};
use crate::events::Events;
use crate::local::RolloutRequest;
use crate::local::client::Connection;

pub fn exec(command: RolloutCommand, aws_args: &aws::Connection) -> Result<(), Failure> {
    match command {
        RolloutCommand::Status(args) => status(&args, aws_args),
        RolloutCommand::Resume(args) => {
            let format = args.progress.output;
            let events = progress(format);
            reported(format, resume(args, aws_args, events))
        }
        RolloutCommand::Abort(args) => {
            let format = args.progress.output;
            let events = progress(format);
            reported(format, abort(&args, aws_args, events))
        }
    }
}

fn status(args: &RolloutStatusArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    let text = if resolve(args.target.env, &loaded) == Environment::Aws {
        let report = runtime()?
            .block_on(async {
                let aws = connect(&loaded, aws_args).await?;
                aws::rollout_report(&aws, &loaded.spec).await
            })
            .map_err(implicit_aws(args.target.env))?;
        match args.output {
            OutputFormat::Json => json(&report)?,
            OutputFormat::Table => report.map_or_else(
                || "no rollout is running or unfinished\n".to_owned(),
                |lock| format!("{}\n", lock.describe()),
            ),
        }
    } else {
        let report = runtime()?.block_on(async { Connection::open(&loaded)?.status().await })?;
        match args.output {
            // The shape of AWS's report, without the lease `dashctl up` does not need.
            OutputFormat::Json => json(&serde_json::json!({ "rollout": report.rollouts.first() }))?,
            OutputFormat::Table => report.rollouts.first().map_or_else(
                || "no rollout is running or paused\n".to_owned(),
                |rollout| {
                    if rollout.paused {
                        format!("{}\n", rollout.what_next())
                    } else {
                        format!("rollout in progress: {}\n", rollout.describe())
                    }
                },
            ),
        }
    };
    print!("{text}");
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|text| format!("{text}\n"))
        .map_err(|error| Failure::Failed(error.into()))
}

fn resume(args: ResumeArgs, aws_args: &aws::Connection, events: Events) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    if resolve_for_change(args.target.env, &loaded, "resume a rollout")? == Environment::Local {
        if args.bake.is_some() || args.overrides.any() {
            return Err(Failure::Usage(
                "--bake, --break-lock and --accept-live-traffic apply to AWS; locally the rollout runs inside `dashctl up`".to_owned(),
            ));
        }
        let request = RolloutRequest::Resume {
            wait_until: args.wait_until,
        };
        return roll_out_locally(&loaded, request, &events);
    }
    let spec = &loaded.spec;
    let env = args.target.env;
    change_on_aws(&loaded, aws_args, env, events, |aws, cancel| async move {
        let options = aws::ResumeOptions {
            overrides: args.overrides,
            bake: args.bake,
            wait_until: args.wait_until,
            cancel,
        };
        aws::resume_rollout(&aws, spec, &options).await
    })
}

fn abort(args: &AbortArgs, aws_args: &aws::Connection, events: Events) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    if resolve_for_change(args.target.env, &loaded, "abort a rollout")? == Environment::Local {
        if args.break_lock {
            return Err(Failure::Usage(
                "--break-lock applies to AWS; locally the rollout runs inside `dashctl up`"
                    .to_owned(),
            ));
        }
        return roll_out_locally(&loaded, RolloutRequest::Abort, &events);
    }
    let spec = &loaded.spec;
    change_on_aws(
        &loaded,
        aws_args,
        args.target.env,
        events,
        |aws, cancel| async move { aws::abort_rollout(&aws, spec, args.break_lock, &cancel).await },
    )
}
