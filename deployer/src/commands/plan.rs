//! `dashctl plan`: what `deploy` would create, update and delete on AWS.

use super::{Failure, connect, load, runtime};
use crate::aws;
use crate::cli::PlanArgs;

pub fn exec(args: &PlanArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    let changes = runtime()?.block_on(async {
        let aws = connect(&loaded, aws_args).await?;
        aws::plan(&aws, &loaded.spec).await
    })?;
    print!("{}", crate::plan::render(&changes));
    Ok(())
}
