//! `dashctl destroy`: list (exit 2) or, with `--yes`, remove everything the app created on AWS.

use super::{Failure, connect, load, runtime};
use crate::aws;
use crate::cli::DestroyArgs;

pub fn exec(args: &DestroyArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    let removed = runtime()?.block_on(async {
        let aws = connect(&loaded, aws_args).await?;
        aws::destroy(&aws, &loaded.spec, args.yes, args.break_lock).await
    })?;
    if removed.is_empty() {
        println!(
            "Nothing to remove: no resources are tagged {}/{}.",
            loaded.spec.app, loaded.spec.environment
        );
        return Ok(());
    }
    println!(
        "{} ({}):",
        if args.yes { "Removed" } else { "Would remove" },
        removed.len()
    );
    for change in &removed {
        println!("  {} {}", change.kind, change.name);
    }
    if !args.yes {
        return Err(Failure::Usage(
            "nothing was removed: pass --yes to remove these resources".to_owned(),
        ));
    }
    Ok(())
}
