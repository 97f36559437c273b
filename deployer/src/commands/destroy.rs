//! `dashctl destroy`: list (exit 2) or, with `--yes`, remove everything the app created on AWS.

use super::{Failure, connect, load, runtime};
use crate::aws;
use crate::aws::model::Kind;
use crate::cli::DestroyArgs;

pub fn exec(args: &DestroyArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.spec)?;
    let deletion = args
        .yes
        .then(|| aws::database::Deletion::new(args.skip_final_snapshot));
    let removed = runtime()?.block_on(async {
        let aws = connect(&loaded, aws_args).await?;
        aws::destroy(&aws, &loaded.spec, deletion.as_ref(), args.break_lock).await
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
    for change in removed
        .iter()
        .filter(|change| change.kind == Kind::Database)
    {
        match deletion
            .as_ref()
            .map(|deletion| deletion.final_snapshot(&change.name))
        {
            Some(Some(snapshot)) => println!(
                "Database {} left the final snapshot {snapshot}; restore it with `aws rds restore-db-instance-from-db-snapshot --db-snapshot-identifier {snapshot} --db-instance-identifier NEW_NAME`.",
                change.name
            ),
            Some(None) => println!(
                "Database {} was deleted without a final snapshot (--skip-final-snapshot); its automated backups are kept for their retention period.",
                change.name
            ),
            None => println!(
                "Database {} holds data: with --yes it is deleted after a final snapshot (--skip-final-snapshot for none).",
                change.name
            ),
        }
    }
    if !args.yes {
        return Err(Failure::Usage(
            "nothing was removed: pass --yes to remove these resources".to_owned(),
        ));
    }
    Ok(())
}
