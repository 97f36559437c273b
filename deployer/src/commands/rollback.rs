//! `dashctl rollback`: back to the previous color, for one service or every one that has an
//! earlier release.

use super::human::Human;
use super::{
    Failure, cancel_on_ctrl_c, connect, finish, known_service, load, refused_or_failed,
    resolve_for_change, runtime,
};
use crate::aws;
use crate::cli::{Environment, RollbackArgs};
use crate::events::Event;
use crate::local::{ActionReport, client::Connection};

pub fn exec(args: RollbackArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    let services: Vec<String> = match args.service {
        Some(name) => {
            known_service(&loaded, &name)?;
            vec![name]
        }
        None => loaded.spec.services.keys().cloned().collect(),
    };
    // Rolling back everything skips the services with nothing to roll back to; rolling back
    // one that has none fails.
    let all = services.len() > 1;
    if resolve_for_change(args.target.env, &loaded, "roll back")? == Environment::Aws {
        let rolled = runtime()?
            .block_on(async {
                let aws = connect(&loaded, aws_args).await?;
                let options = aws::RollbackOptions {
                    break_lock: args.break_lock,
                    accept_live_traffic: args.accept_live_traffic,
                    cancel: cancel_on_ctrl_c(),
                };
                aws::rollback(&aws, &loaded.spec, &services, &options).await
            })
            .map_err(refused_or_failed(args.target.env))?;
        for skipped in &rolled.nothing_to_roll_back {
            println!("{skipped}");
        }
        let human = Human::new();
        for outcome in rolled.outcomes {
            human.show(&Event::Live { outcome });
        }
        return Ok(());
    }
    let mut merged = ActionReport::default();
    runtime()?.block_on(async {
        let connection = Connection::open(&loaded)?;
        for service in services {
            let report = connection.rollback(service).await?;
            merged.steps.extend(report.steps);
            merged.outcomes.extend(report.outcomes);
            match (report.nothing_to_roll_back, report.error) {
                (_, Some(error)) => {
                    merged.error = Some(error);
                    break;
                }
                (Some(skipped), None) if all => println!("{skipped}"),
                (Some(skipped), None) => {
                    merged.error = Some(skipped);
                    break;
                }
                (None, None) => {}
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    if merged.outcomes.is_empty() && merged.error.is_none() {
        println!("nothing to roll back");
        return Ok(());
    }
    finish(merged)
}
