//! One file per subcommand, each an `exec` that calls library operations and prints; here what
//! they share: errors sorted into exit codes, loading the spec, choosing local or AWS.

mod deploy;
mod destroy;
mod down;
mod human;
mod jsonl;
mod logs;
mod plan;
mod rollback;
mod rollout;
mod status;
mod up;
mod validate;

use crate::aws::{self, Aws};
use crate::cli::{Cli, Command, Environment, ProgressFormat, SpecArg};
use crate::events::Events;
use crate::local::client::Connection;
use crate::local::{ActionError, ActionReport, RolloutRequest};
use crate::rollout::{Aftermath, RolloutError};
use crate::spec::{self, LoadedSpec, SpecError};

/// Why a command failed, which decides the exit code (`cli::ROLLOUT_EXIT_CODES` tells users).
#[derive(Debug)]
pub enum Failure {
    /// Exit 2: the spec is invalid.
    InvalidSpec(SpecError),
    /// Exit 2: the command line asks for something impossible.
    Usage(String),
    /// Exit 1: the work itself failed.
    Failed(anyhow::Error),
    /// Exit 3: a release failed and was abandoned or rolled back; the live color from before
    /// serves all traffic.
    Reverted(anyhow::Error),
    /// Exit 4: a release failed and undoing it failed too; needs attention.
    NeedsAttention(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::InvalidSpec(_) | Self::Usage(_) => 2,
            Self::Reverted(_) => 3,
            Self::NeedsAttention(_) => 4,
        }
    }

    /// The kind of failure as one word, for machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "invalid_spec",
            Self::Usage(_) => "usage",
            Self::Failed(_) => "failed",
            Self::Reverted(_) => "reverted",
            Self::NeedsAttention(_) => "needs_attention",
        }
    }

    /// The error as one message (an invalid spec's problems one per line).
    pub fn message(&self) -> String {
        match self {
            Self::InvalidSpec(error) => error.lines().join("\n"),
            Self::Usage(message) => message.clone(),
            Self::Failed(error) | Self::Reverted(error) | Self::NeedsAttention(error) => {
                format!("{error:#}")
            }
        }
    }

    fn after(aftermath: Aftermath, error: anyhow::Error) -> Self {
        match aftermath {
            Aftermath::Failed => Self::Failed(error),
            Aftermath::Reverted => Self::Reverted(error),
            Aftermath::NeedsAttention => Self::NeedsAttention(error),
        }
    }
}

/// A failed rollout anywhere in the error's chain decides what kind of failure it is.
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let aftermath = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<RolloutError>())
            .map_or(Aftermath::Failed, RolloutError::aftermath);
        Self::after(aftermath, error)
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let aws = &cli.aws;
    match cli.command {
        Command::Validate(args) => validate::exec(&args),
        Command::Up(args) => up::exec(&args),
        Command::Plan(args) => plan::exec(&args, aws),
        Command::Destroy(args) => destroy::exec(&args, aws),
        Command::Down(args) => down::exec(&args),
        Command::Status(args) => status::exec(&args, aws),
        Command::Deploy(args) => deploy::exec(args, aws),
        Command::Rollback(args) => rollback::exec(args, aws),
        Command::Logs(args) => logs::exec(&args, aws),
        Command::Rollout(command) => rollout::exec(command, aws),
    }
}

fn load(arg: &SpecArg) -> Result<LoadedSpec, Failure> {
    spec::load(&arg.file).map_err(Failure::InvalidSpec)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::Failed(error.into()))
}

/// `--env` if given; else local when `dashctl up` runs this spec here, else AWS.
fn resolve(env: Option<Environment>, loaded: &LoadedSpec) -> Environment {
    env.unwrap_or_else(|| {
        if Connection::open(loaded).is_ok() {
            Environment::Local
        } else {
            Environment::Aws
        }
    })
}

/// For commands that change things (`deploy`, `rollback`): `--env` if given; else local when
/// `dashctl up` runs this spec here; else the spec's `default_env`; else a usage error. They
/// never reach AWS by accident.
fn resolve_for_change(
    env: Option<Environment>,
    loaded: &LoadedSpec,
    verb: &str,
) -> Result<Environment, Failure> {
    if let Some(env) = env {
        return Ok(env);
    }
    if Connection::open(loaded).is_ok() {
        return Ok(Environment::Local);
    }
    match loaded.spec.default_env {
        Some(spec::Target::Aws) => Ok(Environment::Aws),
        Some(spec::Target::Local) => Ok(Environment::Local),
        None => Err(Failure::Usage(format!(
            "no `dashctl up` runs {} here; pass --env aws to {verb} on AWS (or set `default_env: aws` in the spec), or start it here with `dashctl up`",
            loaded.path.display()
        ))),
    }
}

/// Said when a command went to AWS only because no local run was found.
fn implicit_aws(env: Option<Environment>) -> impl Fn(anyhow::Error) -> Failure {
    move |error| {
        Failure::from(match env {
            Some(_) => error,
            None => error.context(
                "no `dashctl up` runs this spec here, so this command went to AWS (pass --env local or --env aws to choose)",
            ),
        })
    }
}

/// A deploy or rollback on AWS that refused before changing anything because it lacks the
/// operator's go-ahead (`--yes`, `--accept-live-traffic`) is a usage error; anything else is
/// a failure.
fn refused_or_failed(env: Option<Environment>) -> impl Fn(anyhow::Error) -> Failure {
    move |error| {
        if error
            .downcast_ref::<aws::UnconfirmedDatabaseDeletion>()
            .is_some()
            || error.downcast_ref::<aws::TrafficDrift>().is_some()
            || error.downcast_ref::<aws::UnfinishedRollout>().is_some()
            || error.downcast_ref::<aws::NoUnfinishedRollout>().is_some()
            || error
                .downcast_ref::<aws::WaitUntilNeedsOneService>()
                .is_some()
        {
            Failure::Usage(format!("{error}"))
        } else {
            implicit_aws(env)(error)
        }
    }
}

async fn connect(loaded: &LoadedSpec, connection: &aws::Connection) -> anyhow::Result<Aws> {
    Aws::connect(&loaded.spec, connection, human::Human::events()).await
}

/// Runs `operation` on AWS for a verb that changes things: its progress goes to `events`, its
/// cancellation token trips on Ctrl-C, and a refusal (an unconfirmed deletion, traffic dashctl
/// did not set, an unfinished rollout) exits 2 where any other error is a failure.
fn change_on_aws<T, Operation, Done>(
    loaded: &LoadedSpec,
    connection: &aws::Connection,
    env: Option<Environment>,
    events: Events,
    operation: Operation,
) -> Result<T, Failure>
where
    Operation: FnOnce(Aws, tokio_util::sync::CancellationToken) -> Done,
    Done: Future<Output = anyhow::Result<T>>,
{
    runtime()?
        .block_on(async {
            let aws = Aws::connect(&loaded.spec, connection, events).await?;
            operation(aws, cancel_on_ctrl_c()).await
        })
        .map_err(refused_or_failed(env))
}

/// Where a deploy's or rollback's events go, as `--output` says.
fn progress(format: ProgressFormat) -> Events {
    match format {
        ProgressFormat::Human => human::Human::events(),
        ProgressFormat::Jsonl => jsonl::events(),
    }
}

/// How a deploy or rollback ended; with `--output jsonl` also as the last line of stdout.
fn reported(format: ProgressFormat, result: Result<(), Failure>) -> Result<(), Failure> {
    if format == ProgressFormat::Jsonl {
        jsonl::result(&result);
    }
    result
}

/// `--service NAME`, checked against the spec.
fn known_service(loaded: &LoadedSpec, name: &str) -> Result<(), Failure> {
    if loaded.spec.services.contains_key(name) {
        Ok(())
    } else {
        Err(Failure::Usage(format!("the spec has no service `{name}`")))
    }
}

/// The first service (by name) that lacks what a command needs, for its usage error.
fn service_lacking(loaded: &LoadedSpec, lacks: impl Fn(&spec::Service) -> bool) -> Option<&str> {
    loaded
        .spec
        .services
        .iter()
        .find(|(_, definition)| lacks(definition))
        .map(|(name, _)| name.as_str())
}

/// A local deploy's or rollback's report (its events were shown as they came) as the
/// command's result.
/// Asks the `dashctl up` running this spec to do `request`, its events going to `events` as
/// they happen; what it came to decides the exit code.
fn roll_out_locally(
    loaded: &LoadedSpec,
    request: RolloutRequest,
    events: &Events,
) -> Result<(), Failure> {
    let report = runtime()?
        .block_on(async { Connection::open(loaded)?.roll_out(&request, events).await })?;
    finish(report)
}

fn finish(report: ActionReport) -> Result<(), Failure> {
    match report.error {
        None => Ok(()),
        Some(ActionError::Invalid { message }) => Err(Failure::Usage(message)),
        Some(ActionError::Failed { message, aftermath }) => {
            Err(Failure::after(aftermath, anyhow::anyhow!(message)))
        }
    }
}

/// The first Ctrl-C stops the work safely: infrastructure changes stop before the next step,
/// a rollout is abandoned before its final switch (the live color keeps serving). A second
/// Ctrl-C exits at once.
fn cancel_on_ctrl_c() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: stopping safely (the live color keeps serving); press Ctrl-C again to exit now"
            );
            cancel.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted twice: exiting without cleaning up; a rollout under way stays journaled: `dashctl rollout status`, then `dashctl rollout resume --break-lock` or `dashctl rollout abort --break-lock`"
            );
            std::process::exit(130);
        }
    });
    token
}
