//! Command-line types only.

use std::path::PathBuf;

use crate::aws::Overrides;
use clap::{Parser, Subcommand, ValueEnum};

/// dashctl: runs the services of a YAML spec on this machine (`dashctl up`) or on AWS
/// (`plan`, `deploy`, `destroy`: VPC, load balancers, ECS Fargate, autoscaling), with
/// blue/green rollouts, rollback, request-count autoscaling and clear status.
///
/// Start here: `dashctl up` runs config/dashboard.yaml and serves the dashboard at
/// http://127.0.0.1:8080. In another terminal, `dashctl status` shows what runs.
/// On AWS: `dashctl plan` shows what `dashctl deploy` would change.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub aws: crate::aws::Connection,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SpecArg {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "file",
        env = "DASHCTL_SPEC",
        default_value = "config/dashboard.yaml"
    )]
    pub file: PathBuf,
}

/// The spec and where to act on it (`--env`), for the commands that act locally or on AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    #[arg(long, value_enum)]
    pub env: Option<Environment>,
}

/// Where a command acts. Without `--env`: this machine if `dashctl up` runs this spec here,
/// else AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// This machine, through a running `dashctl up`.
    Local,
    /// The AWS account and region from the spec, flags and standard AWS configuration.
    Aws,
}

/// How `deploy` and `rollback` report what they do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// Lines for a person: progress on stderr, results on stdout.
    #[default]
    Human,
    /// For CI: one JSON object per line on stdout for every event (`"event"` names it: plan,
    /// rollout steps with service, color and weight, alarms, live...), the last one
    /// `{"event":"result","ok":...,"exit_code":...}` with the error if it failed. Nothing else
    /// is written to stdout; errors are also printed on stderr.
    Jsonl,
}

/// The exit codes of `deploy` and `rollback`, for `--help`.
pub const ROLLOUT_EXIT_CODES: &str = "Exit codes:
  0  done
  1  failed; the error says why (a held lock, nothing to roll back to, an AWS call refused...)
  2  invalid spec or command line; nothing was changed
  3  the release failed and was abandoned or rolled back: the live color from before serves all traffic
  4  the release failed and traffic could not be moved back: needs attention (`dashctl rollout status`,
     then `dashctl rollout abort` tries again)";

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// Each subcommand's arguments; `commands/<name>.rs` runs it.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec without running anything: unknown keys, types, ranges, names, references.
    /// Exits 2 and names file:line:column for each problem.
    Validate(ValidateArgs),
    /// Run the spec on this machine until Ctrl-C or `dashctl down`: each service behind its
    /// own proxy (internal ones on loopback only), supervised and autoscaled.
    Up(UpArgs),
    /// AWS: show what `deploy` would create, update and delete (nothing is changed).
    Plan(PlanArgs),
    /// AWS: remove everything this app and environment created, in reverse order. Without
    /// --yes it only lists what it would remove (and exits 2).
    Destroy(DestroyArgs),
    /// Stop a running `dashctl up`: drains and stops every instance, then exits.
    Down(DownArgs),
    /// Show each service: live color and URL. Locally: instances with pids, restarts and
    /// request rates. On AWS: both colors with traffic weight, revision, image, counts, health.
    Status(StatusArgs),
    /// Deploy the spec as it is now. Changed services go out blue/green on both platforms:
    /// start the idle color, wait until healthy, shift traffic (canary steps if configured),
    /// bake, retire the old color. On AWS it first prints the plan and applies infrastructure
    /// changes in dependency order; it ends with the URLs.
    #[command(after_help = ROLLOUT_EXIT_CODES)]
    Deploy(DeployArgs),
    /// Switch a service back to the color it ran before the last deploy (scaling it up first
    /// if it was scaled down). No image pull, no new task definition.
    #[command(after_help = ROLLOUT_EXIT_CODES)]
    Rollback(RollbackArgs),
    /// Show a service's logs, every instance's lines interleaved by time, each naming who
    /// wrote it: locally from `.dashctl/logs`, on AWS from CloudWatch Logs.
    #[command(long_about = LOGS_HELP)]
    Logs(LogsArgs),
    /// A rollout that did not finish: paused by `deploy --wait-until`, left by a dashctl that
    /// died (a second Ctrl-C, SIGKILL, a lost CI runner), or whose undo failed. `status` shows
    /// its stage; `resume` continues it; `abort` undoes it.
    #[command(subcommand, long_about = ROLLOUT_HELP)]
    Rollout(RolloutCommand),
}

const ROLLOUT_HELP: &str = "\
A rollout journals each stage it reaches (on AWS in the rollout lock, an SSM parameter beside the
traffic record; locally in `dashctl up`): starting, started, checking, healthy, canary N%,
switched, baked. A run that stops before the end leaves the journal, and every later deploy or
rollback refuses until the rollout is resumed or aborted.

On AWS the lock's lease says whether a dashctl still runs it: while the lease runs (2 minutes
after its last renewal) resume and abort refuse; pass --break-lock when that dashctl is known to
be gone. Locally the rollout runs inside `dashctl up`: a deploy whose client goes away is
abandoned by `up` itself, so only `--wait-until` leaves one to resume or abort.

Examples:
  dashctl deploy --service portal --wait-until healthy     stop with green healthy, test route open
  curl -H 'X-Dashctl-Color: green' https://...             check it
  dashctl rollout resume                                   canary steps, switch, bake, retire
  dashctl rollout resume --wait-until switched             ... or go one stage further
  dashctl rollout abort                                    all traffic back on blue, green down
  dashctl rollout status --env aws                         stage, colors, lease";

/// `dashctl rollout ...`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show the unfinished or running rollout: service, colors, stage, whether it is paused,
    /// and (AWS) who holds the lock and for how long.
    Status(RolloutStatusArgs),
    /// Continue the unfinished rollout from its stage, to the end (or to --wait-until).
    #[command(after_help = ROLLOUT_EXIT_CODES)]
    Resume(ResumeArgs),
    /// Undo the unfinished rollout: all traffic back on the color that served before it, the
    /// new color scaled down with its earlier release, the journal cleared.
    #[command(after_help = ROLLOUT_EXIT_CODES)]
    Abort(AbortArgs),
}

#[derive(Debug, clap::Args)]
pub struct RolloutStatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub progress: ProgressArg,
    /// Stop again at this stage (it must be after the one reached).
    #[arg(long, value_enum, value_name = "STAGE")]
    pub wait_until: Option<crate::rollout::WaitUntil>,
    /// AWS: bake for this long instead of the service's `deploy.bake`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub bake: Option<std::time::Duration>,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, clap::Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub progress: ProgressArg,
    /// AWS: end the lease of the dashctl that ran the rollout (only when it is known to be
    /// gone), then undo the rollout.
    #[arg(long)]
    pub break_lock: bool,
}

const LOGS_HELP: &str = "\
Show a service's logs: the lines of all its instances, interleaved by time, each naming the
service, color and instance that wrote it:

  2026-12-01T10:00:01.123Z portal/green/portal-green-3  {\"message\":\"portal listening\",...}

Without --env: this machine while `dashctl up` runs the spec here, else AWS.

Locally the lines come from the files `dashctl up` writes under .dashctl/logs (one per
instance, each line stamped with the time it was printed); after `up` has stopped, read them
with --env local. On AWS they come from the service's CloudWatch log group
(/dashctl/APP/ENV/SERVICE); the instance is the ECS task id, and its color is known while ECS
lists the task (running, or stopped within about an hour; older ones show as `?` and are left
out by --color).

Examples:
  dashctl logs portal                      the last 10 minutes of every instance
  dashctl logs portal --color green        only the green instances (e.g. during a rollout)
  dashctl logs portal --since 2h           the last two hours
  dashctl logs portal -F                   keep printing new lines until Ctrl-C
  dashctl logs hardware --env aws --since 30m";

/// Which instances `dashctl logs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Blue,
    Green,
}

impl From<ColorArg> for crate::rollout::Color {
    fn from(color: ColorArg) -> Self {
        match color {
            ColorArg::Blue => Self::Blue,
            ColorArg::Green => Self::Green,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArg,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Skip the spec's `local.build` command (use binaries already built).
    #[arg(long)]
    pub no_build: bool,
    /// Where PostgreSQL's programs (initdb, postgres) are, for specs with databases. Default:
    /// the first initdb on PATH, then the newest /usr/lib/postgresql/*/bin.
    #[arg(long, env = "DASHCTL_POSTGRES_BIN_DIR", value_name = "DIR")]
    pub postgres_bin_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArg,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Really delete (without it, destroy lists what it would remove and exits 2). Each
    /// database leaves a final snapshot, named in the output.
    #[arg(long)]
    pub yes: bool,
    /// Delete databases without a final snapshot: their data is gone for good (automated
    /// backups are kept for their retention period).
    #[arg(long, requires = "yes")]
    pub skip_final_snapshot: bool,
    /// Remove the rollout lock first (only when the run holding it is known to be gone).
    #[arg(long)]
    pub break_lock: bool,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub spec: SpecArg,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// `--output` for the verbs that report each step as it happens.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ProgressArg {
    /// `human` lines, or `jsonl`: one JSON object per event on stdout, for CI.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ProgressFormat,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Deploy one service (locally: redeployed even if unchanged).
    #[arg(long)]
    pub service: Option<String>,
    #[command(flatten)]
    pub progress: ProgressArg,
    /// AWS: run IMAGE for service NAME instead of the spec's image (repeatable).
    #[arg(long = "image", value_name = "NAME=IMAGE", value_parser = parse_image)]
    pub images: Vec<(String, String)>,
    /// AWS: print the plan and each rollout's steps, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// AWS: bake for this long instead of each service's `deploy.bake` (e.g. 0s, 10m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub bake: Option<std::time::Duration>,
    #[command(flatten)]
    pub overrides: Overrides,
    /// AWS: confirm deleting the databases the spec no longer has (refused without it). Each
    /// leaves a final snapshot, named in the output.
    #[arg(long)]
    pub yes: bool,
    /// AWS: delete those databases without a final snapshot.
    #[arg(long, requires = "yes")]
    pub skip_final_snapshot: bool,
    /// Stop the rollout at this stage and exit 0, leaving it for `dashctl rollout resume` or
    /// `dashctl rollout abort` (one service's rollout: add --service when several change).
    #[arg(long, value_enum, value_name = "STAGE")]
    pub wait_until: Option<crate::rollout::WaitUntil>,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The service to roll back; without it, every service that has an earlier release.
    #[arg(long)]
    pub service: Option<String>,
    #[command(flatten)]
    pub progress: ProgressArg,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The service whose logs to show (a name from the spec).
    pub service: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only the instances of this color (default: both).
    #[arg(long, value_enum)]
    pub color: Option<ColorArg>,
    /// How far back to start, e.g. 30s, 10m, 2h, 1day.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub since: std::time::Duration,
    /// Keep printing new lines as they are written, until Ctrl-C (AWS: read every 2 s).
    #[arg(short = 'F', long)]
    pub follow: bool,
}

fn parse_image(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, image)) if !name.is_empty() && !image.is_empty() => {
            Ok((name.to_owned(), image.to_owned()))
        }
        _ => Err(format!(
            "expected NAME=IMAGE, e.g. portal=ghcr.io/org/portal:1.2.0; got `{text}`"
        )),
    }
}
