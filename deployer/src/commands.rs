//! What each subcommand does, with errors sorted into exit codes.

use std::time::Duration;

use crate::aws::{self, Aws};
use crate::cli::{AwsArgs, Cli, Command, Environment, OutputFormat, SpecArg};
use crate::local::{self, ActionReport, StatusReport, client::Connection};
use crate::spec::{self, LoadedSpec, SpecError};

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 2: the spec is invalid.
    InvalidSpec(SpecError),
    /// Exit 2: the command line asks for something impossible.
    Usage(String),
    /// Exit 1: the work itself failed.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
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
        match env {
        Some(_) => Failure::Failed(error),
        None => Failure::Failed(error.context(
            "no `dashctl up` runs this spec here, so this command went to AWS (pass --env local or --env aws to choose)",
        )),
    }
    }
}

async fn connect(loaded: &LoadedSpec, args: &AwsArgs) -> anyhow::Result<Aws> {
    Aws::connect(
        &loaded.spec,
        &aws::Connection {
            region: args.region.clone(),
            profile: args.profile.clone(),
        },
    )
    .await
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|error| Failure::Failed(error.into()))
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let aws_args = cli.aws;
    match cli.command {
        Command::Plan { spec } => {
            let loaded = load(&spec)?;
            let changes = runtime()?.block_on(async {
                let aws = connect(&loaded, &aws_args).await?;
                aws::plan(&aws, &loaded.spec).await
            })?;
            print!("{}", crate::plan::render(&changes));
            Ok(())
        }
        Command::Destroy {
            spec,
            yes,
            break_lock,
        } => {
            let loaded = load(&spec)?;
            let removed = runtime()?.block_on(async {
                let aws = connect(&loaded, &aws_args).await?;
                aws::destroy(&aws, &loaded.spec, yes, break_lock).await
            })?;
            if removed.is_empty() {
                println!(
                    "Nothing to remove: no resources are tagged {}/{}.",
                    loaded.spec.app, loaded.spec.environment
                );
                return Ok(());
            }
            if !yes {
                println!("Would remove ({}):", removed.len());
                for change in &removed {
                    println!("  {} {}", change.kind, change.name);
                }
                return Err(Failure::Usage(
                    "nothing was removed: pass --yes to remove these resources".to_owned(),
                ));
            }
            println!("Removed ({}):", removed.len());
            for change in &removed {
                println!("  {} {}", change.kind, change.name);
            }
            Ok(())
        }
        Command::Validate { spec } => {
            let loaded = load(&spec)?;
            let count = loaded.spec.services.len();
            println!(
                "{} is valid: app {}, environment {}, {count} service{}",
                loaded.path.display(),
                loaded.spec.app,
                loaded.spec.environment,
                if count == 1 { "" } else { "s" }
            );
            Ok(())
        }
        Command::Up { spec, no_build } => {
            let loaded = load(&spec)?;
            if let Some((name, _)) = loaded
                .spec
                .services
                .iter()
                .find(|(_, service)| service.local.is_none())
            {
                return Err(Failure::Usage(format!(
                    "{}: service `{name}` has no `local` section, so `dashctl up` cannot run it (add `local: {{ command: [...] }}`)",
                    loaded.path.display()
                )));
            }
            runtime()?.block_on(local::up(loaded, local::UpOptions { no_build }))?;
            Ok(())
        }
        Command::Down { spec } => {
            let loaded = load(&spec)?;
            runtime()?.block_on(async {
                let connection = Connection::open(&loaded)?;
                connection.down(Duration::from_secs(120)).await?;
                println!("stopped {} ({})", loaded.spec.app, loaded.spec.environment);
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(())
        }
        Command::Status { spec, env, output } => {
            let loaded = load(&spec)?;
            if resolve(env, &loaded) == Environment::Aws {
                let report = runtime()?
                    .block_on(async {
                        let aws = connect(&loaded, &aws_args).await?;
                        aws::status(&aws, &loaded.spec).await
                    })
                    .map_err(implicit_aws(env))?;
                match output {
                    OutputFormat::Json => println!("{}", json(&report)?),
                    OutputFormat::Table => print!("{}", render_aws_status(&report)),
                }
                return Ok(());
            }
            let report =
                runtime()?.block_on(async { Connection::open(&loaded)?.status().await })?;
            match output {
                OutputFormat::Json => println!("{}", json(&report)?),
                OutputFormat::Table => print!("{}", render_status(&report)),
            }
            Ok(())
        }
        Command::Deploy {
            spec,
            env,
            service,
            images,
            dry_run,
            bake,
            break_lock,
        } => {
            let mut loaded = load(&spec)?;
            for name in service.iter().chain(images.iter().map(|(name, _)| name)) {
                if !loaded.spec.services.contains_key(name) {
                    return Err(Failure::Usage(format!("the spec has no service `{name}`")));
                }
            }
            if resolve_for_change(env, &loaded, "deploy")? == Environment::Aws {
                for (name, image) in images {
                    if let Some(definition) = loaded.spec.services.get_mut(&name) {
                        definition.image = Some(image);
                    }
                }
                if let Some((name, _)) = loaded
                    .spec
                    .services
                    .iter()
                    .find(|(_, definition)| definition.image.is_none())
                {
                    return Err(Failure::Usage(format!(
                        "service `{name}` has no image; set services.{name}.image or pass --image {name}=IMAGE"
                    )));
                }
                runtime()?
                    .block_on(async {
                        let aws = connect(&loaded, &aws_args).await?;
                        let options = aws::DeployOptions {
                            only_service: service,
                            dry_run,
                            bake,
                            break_lock,
                            cancel: cancel_on_ctrl_c(),
                        };
                        aws::deploy(&aws, &loaded, options).await
                    })
                    .map_err(implicit_aws(env))?;
                return Ok(());
            }
            if !images.is_empty() || dry_run || bake.is_some() || break_lock {
                return Err(Failure::Usage(
                    "--image, --dry-run, --bake and --break-lock apply to AWS deploys; locally, change the spec and run `dashctl deploy`".to_owned(),
                ));
            }
            let report =
                runtime()?.block_on(async { Connection::open(&loaded)?.deploy(service).await })?;
            finish(report)
        }
        Command::Rollback {
            spec,
            env,
            service,
            break_lock,
        } => {
            let loaded = load(&spec)?;
            let services: Vec<String> = match service {
                Some(name) if !loaded.spec.services.contains_key(&name) => {
                    return Err(Failure::Usage(format!("the spec has no service `{name}`")));
                }
                Some(name) => vec![name],
                None => loaded.spec.services.keys().cloned().collect(),
            };
            if resolve_for_change(env, &loaded, "roll back")? == Environment::Aws {
                let outcomes = runtime()?
                    .block_on(async {
                        let aws = connect(&loaded, &aws_args).await?;
                        let options = aws::DeployOptions {
                            only_service: None,
                            dry_run: false,
                            bake: None,
                            break_lock,
                            cancel: cancel_on_ctrl_c(),
                        };
                        aws::rollback(&aws, &loaded.spec, &services, &options).await
                    })
                    .map_err(implicit_aws(env))?;
                for outcome in outcomes {
                    println!(
                        "{}: live on {} (was {})",
                        outcome.service,
                        outcome.to,
                        outcome
                            .from
                            .map_or_else(|| "nothing".to_owned(), |color| color.to_string())
                    );
                }
                return Ok(());
            }
            let all = services.len() > 1;
            let mut merged = ActionReport::default();
            runtime()?.block_on(async {
                let connection = Connection::open(&loaded)?;
                for service in services {
                    let report = connection.rollback(service).await?;
                    merged.steps.extend(report.steps);
                    merged.outcomes.extend(report.outcomes);
                    match report.error {
                        Some(error) if all && error.contains("nothing to roll back") => {
                            println!("{error}")
                        }
                        Some(error) => {
                            merged.error = Some(error);
                            break;
                        }
                        None => {}
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
                "interrupted twice: exiting without cleaning up; check `dashctl status` and --break-lock"
            );
            std::process::exit(130);
        }
    });
    token
}

fn finish(report: ActionReport) -> Result<(), Failure> {
    for step in &report.steps {
        println!("  {step}");
    }
    for outcome in &report.outcomes {
        match &outcome.from {
            Some(from) => println!("{}: live on {} (was {from})", outcome.service, outcome.to),
            None => println!("{}: live on {}", outcome.service, outcome.to),
        }
    }
    match report.error {
        Some(error) => Err(Failure::Failed(anyhow::anyhow!(error))),
        None => {
            if report.outcomes.is_empty() {
                println!("nothing to deploy: every service already runs what the spec says");
            }
            Ok(())
        }
    }
}

pub fn render_status(report: &StatusReport) -> String {
    use comfy_table::{Table, presets::NOTHING};
    let mut out = format!(
        "{} ({}) on {}, dashctl up pid {}\n\n",
        report.app, report.environment, report.platform, report.pid
    );
    let mut services = Table::new();
    services.load_preset(NOTHING).set_header([
        "SERVICE",
        "URL",
        "LIVE",
        "READY",
        "REQ/MIN",
        "SCALING (min-max @ req/min/target)",
    ]);
    for service in &report.services {
        services.add_row([
            format!(
                "{}{}",
                service.name,
                if service.public { "" } else { " (internal)" }
            ),
            service.url.clone(),
            match (service.live_color, service.canary) {
                (Some(live), Some((canary, percent))) => format!("{live} ({canary} {percent}%)"),
                (Some(live), None) => live.to_string(),
                (None, _) => "-".to_owned(),
            },
            format!("{}/{}", service.ready, service.desired),
            service.requests_per_minute.to_string(),
            format!(
                "{}-{} @ {}",
                service.scaling.min, service.scaling.max, service.scaling.requests_per_target
            ),
        ]);
    }
    out.push_str(&services.to_string());
    out.push_str("\n\n");
    let mut instances = Table::new();
    instances
        .load_preset(NOTHING)
        .set_header(["INSTANCE", "PID", "PORT", "STATE", "RESTARTS", "REQUESTS"]);
    for service in &report.services {
        for instance in &service.instances {
            let state = if instance.draining {
                "draining"
            } else if instance.ready {
                "ready"
            } else if instance.pid.is_some() {
                "starting"
            } else {
                "restarting"
            };
            instances.add_row([
                instance.id.clone(),
                instance
                    .pid
                    .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
                instance.port.to_string(),
                state.to_owned(),
                instance.restarts.to_string(),
                instance.requests.to_string(),
            ]);
        }
    }
    out.push_str(&instances.to_string());
    out.push('\n');
    out
}

pub fn render_aws_status(report: &aws::AwsStatus) -> String {
    use comfy_table::{Table, presets::NOTHING};
    let mut out = format!("{} ({}) on AWS\n\n", report.app, report.environment);
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header([
        "SERVICE",
        "LIVE",
        "IMAGE",
        "RUNNING/DESIRED",
        "HEALTHY TARGETS",
        "SCALING",
        "URL",
    ]);
    for service in &report.services {
        let scaling = match (
            service.scaling.min,
            service.scaling.max,
            service.scaling.requests_per_target,
        ) {
            (Some(min), Some(max), Some(target)) => format!("{min}-{max} @ {target} req/min"),
            _ => "-".to_owned(),
        };
        table.add_row([
            format!(
                "{}{}",
                service.name,
                if service.public { "" } else { " (internal)" }
            ),
            service
                .live_color
                .map_or_else(|| "-".to_owned(), |color| color.to_string()),
            service.image.clone().unwrap_or_else(|| "-".to_owned()),
            format!("{}/{}", service.running, service.desired),
            format!("{}/{}", service.healthy_targets, service.registered_targets),
            scaling,
            service
                .url
                .clone()
                .unwrap_or_else(|| "(not deployed)".to_owned()),
        ]);
    }
    out.push_str(&table.to_string());
    out.push_str("\n\n");
    let mut colors = Table::new();
    colors.load_preset(NOTHING).set_header([
        "SERVICE",
        "COLOR",
        "TRAFFIC",
        "TASK DEFINITION",
        "IMAGE",
        "RUNNING/DESIRED",
        "HEALTHY",
    ]);
    for service in &report.services {
        for color in &service.colors {
            colors.add_row([
                service.name.clone(),
                color.color.to_string(),
                format!("{}%", color.weight),
                color
                    .task_definition
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                color.image.clone().unwrap_or_else(|| "-".to_owned()),
                format!("{}/{}", color.running, color.desired),
                format!("{}/{}", color.healthy_targets, color.registered_targets),
            ]);
        }
    }
    out.push_str(&colors.to_string());
    out.push('\n');
    if let Some(holder) = &report.rollout_in_progress {
        out.push_str(&format!("\nrollout in progress: {holder}\n"));
    }
    out
}
