//! `dashctl logs SERVICE`: every instance's lines in time order, locally or from CloudWatch
//! Logs; with `--follow` until Ctrl-C.

use std::io::Write;
use std::time::{Duration, SystemTime};

use super::{Failure, connect, implicit_aws, known_service, load, resolve, runtime};
use crate::aws::{self, log_reader::AwsLogs};
use crate::cli::{Environment, LogsArgs};
use crate::local::log_reader::LocalLogs;
use crate::log_line::LogLine;
use crate::rollout::Color;

/// How often a follow reads again: the local files, CloudWatch Logs (FilterLogEvents allows a
/// few calls a second per account; every two seconds leaves room for other readers).
const LOCAL_POLL: Duration = Duration::from_millis(250);
const AWS_POLL: Duration = Duration::from_secs(2);

pub fn exec(args: &LogsArgs, aws_args: &aws::Connection) -> Result<(), Failure> {
    let loaded = load(&args.target.spec)?;
    known_service(&loaded, &args.service)?;
    let color = args.color.map(Color::from);
    let since = SystemTime::now()
        .checked_sub(args.since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Output::default();
    if resolve(args.target.env, &loaded) == Environment::Aws {
        return runtime()?
            .block_on(async {
                let aws = connect(&loaded, aws_args).await?;
                let mut logs = AwsLogs::new(&aws, &loaded.spec, &args.service, color);
                read_aws(&mut logs, since, args, &mut out).await
            })
            .map_err(implicit_aws(args.target.env));
    }
    read_local(
        args,
        loaded.state_dir_absolute().join("logs"),
        color,
        since,
        &mut out,
    )
}

fn read_local(
    args: &LogsArgs,
    dir: std::path::PathBuf,
    color: Option<Color>,
    since: SystemTime,
    out: &mut Output,
) -> Result<(), Failure> {
    let mut logs = LocalLogs::new(dir.clone(), &args.service, color);
    let mut said_waiting = false;
    loop {
        let lines = logs.read_new(since)?;
        if !out.print(&lines) {
            return Ok(());
        }
        if !args.follow {
            break;
        }
        if !logs.has_files() && !said_waiting {
            said_waiting = true;
            eprintln!(
                "{} has no logs in {} yet; waiting for `dashctl up` to write them (Ctrl-C to stop)",
                who(args),
                dir.display()
            );
        }
        std::thread::sleep(LOCAL_POLL);
    }
    if !logs.has_files() {
        eprintln!(
            "{} has no logs here yet (looked in {}): `dashctl up` writes them while it runs the service",
            who(args),
            dir.display()
        );
    } else if out.printed == 0 {
        eprintln!("{}", nothing_since(args));
    }
    Ok(())
}

async fn read_aws(
    logs: &mut AwsLogs<'_>,
    since: SystemTime,
    args: &LogsArgs,
    out: &mut Output,
) -> anyhow::Result<()> {
    loop {
        let lines = match logs.read_new(since).await? {
            Some(lines) => lines,
            None if !args.follow => {
                eprintln!(
                    "{} has no logs on AWS yet: its log group {} does not exist (`dashctl deploy --env aws` creates it)",
                    who(args),
                    logs.group()
                );
                return Ok(());
            }
            // Following before the first deploy: it may come.
            None => Vec::new(),
        };
        if !out.print(&lines) {
            return Ok(());
        }
        if !args.follow {
            break;
        }
        tokio::time::sleep(AWS_POLL).await;
    }
    if out.printed == 0 {
        eprintln!("{}", nothing_since(args));
    }
    Ok(())
}

/// `portal` or `portal (green)`.
fn who(args: &LogsArgs) -> String {
    match args.color {
        Some(color) => format!("{} ({})", args.service, Color::from(color)),
        None => args.service.clone(),
    }
}

fn nothing_since(args: &LogsArgs) -> String {
    format!(
        "{} wrote nothing in the last {}; try a longer --since",
        who(args),
        humantime::format_duration(args.since)
    )
}

#[derive(Default)]
struct Output {
    printed: usize,
}

impl Output {
    /// Prints the lines; false once stdout is closed (`dashctl logs portal | head`).
    fn print(&mut self, lines: &[LogLine]) -> bool {
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            if writeln!(stdout, "{line}").is_err() {
                return false;
            }
            self.printed += 1;
        }
        stdout.flush().is_ok()
    }
}
