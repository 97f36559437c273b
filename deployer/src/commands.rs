//! What each subcommand does, with errors sorted into exit codes.

use std::time::Duration;

use crate::cli::{Cli, Command, OutputFormat, SpecArg};
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

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
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
        Command::Status {
            spec,
            env: _,
            output,
        } => {
            let loaded = load(&spec)?;
            let report =
                runtime()?.block_on(async { Connection::open(&loaded)?.status().await })?;
            match output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|error| Failure::Failed(error.into()))?
                ),
                OutputFormat::Table => print!("{}", render_status(&report)),
            }
            Ok(())
        }
        Command::Deploy {
            spec,
            env: _,
            service,
        } => {
            let loaded = load(&spec)?;
            if let Some(name) = &service
                && !loaded.spec.services.contains_key(name)
            {
                return Err(Failure::Usage(format!("the spec has no service `{name}`")));
            }
            let report =
                runtime()?.block_on(async { Connection::open(&loaded)?.deploy(service).await })?;
            finish(report)
        }
        Command::Rollback {
            spec,
            env: _,
            service,
        } => {
            let loaded = load(&spec)?;
            if !loaded.spec.services.contains_key(&service) {
                return Err(Failure::Usage(format!(
                    "the spec has no service `{service}`"
                )));
            }
            let report = runtime()?
                .block_on(async { Connection::open(&loaded)?.rollback(service).await })?;
            finish(report)
        }
    }
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
            service
                .live_color
                .map_or_else(|| "-".to_owned(), |color| color.to_string()),
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
