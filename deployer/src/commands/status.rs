//! `dashctl status`: the local run's or AWS's view of each service, as a table or JSON.

use serde::Serialize;

use super::{Failure, connect, implicit_aws, load, resolve, runtime};
use crate::aws;
use crate::cli::{Environment, OutputFormat, StatusArgs};
use crate::local::client::Connection;

pub fn exec(args: &StatusArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    if resolve(args.target.env, &loaded) == Environment::Aws {
        let report = runtime()?
            .block_on(async {
                let aws = connect(&loaded, aws_args).await?;
                aws::status(&aws, &loaded.spec).await
            })
            .map_err(implicit_aws(args.target.env))?;
        return show(args.output, &report, aws::AwsStatus::table);
    }
    let report = runtime()?.block_on(async { Connection::open(&loaded)?.status().await })?;
    show(args.output, &report, crate::local::StatusReport::table)
}

fn show<T: Serialize>(
    output: OutputFormat,
    report: &T,
    table: impl Fn(&T) -> String,
) -> Result<(), Failure> {
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(|error| Failure::Failed(error.into()))?
        ),
        OutputFormat::Table => print!("{}", table(report)),
    }
    Ok(())
}
