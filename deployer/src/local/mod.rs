//! The local platform: `dashctl up` runs a spec's services on this machine with the same
//! semantics as on AWS. Each service gets a proxy (public ones on `local.public_address`,
//! internal ones on loopback only), supervised instances in two colors, a request-count
//! autoscaler, and blue/green through the shared rollout engine.

mod api;
mod autoscaler;
pub mod client;
mod control;
mod control_file;
mod database;
mod instance;
pub mod log_reader;
mod log_writer;
mod platform;
mod port;
mod process;
mod proxy;
mod relayed_body;
mod release;
mod service;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

pub use api::{ActionError, ActionReport, StatusReport};
pub use service::ServiceStatus;

use control::ControlState;
use control_file::{ControlFile, RecordedChild};
use instance::{HealthSettings, RunContext};
use platform::LocalPlatform;
use process::ProcessIdentity;
use release::LocalRelease;
use service::{ServiceRuntime, ServiceSettings};

use crate::events::{Event, Events, LocalEndpoint, Running};
use crate::rollout::{Color, Platform};
use crate::spec::LoadedSpec;

pub struct UpOptions {
    /// Skip the spec's `local.build` command.
    pub no_build: bool,
    /// PostgreSQL's programs, when not found the usual way.
    pub postgres_bin_dir: Option<std::path::PathBuf>,
}

/// Runs the spec until Ctrl-C, SIGTERM or `dashctl down`, then drains and stops everything;
/// says what it does through `events`.
pub async fn up(loaded: LoadedSpec, options: UpOptions, events: &Events) -> anyhow::Result<()> {
    let spec = &loaded.spec;
    let workdir = loaded.workdir_absolute();
    let state_dir = loaded.state_dir_absolute();
    let logs_dir = state_dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .with_context(|| format!("creating {}", logs_dir.display()))?;
    // Recorded in control.json so other commands can tell this process from a later one
    // that reuses its pid; without it nobody could trust the file, so `up` does not start.
    let me = ProcessIdentity::current(std::process::id()).context(
        "cannot read this process's start time from /proc/self/stat; \
         dashctl up needs /proc to tell its processes from others",
    )?;
    clean_up_previous_run(&state_dir, me, events).await?;

    if !spec.local.build.is_empty() && !options.no_build {
        events.emit(Event::Building {
            command: spec.local.build.clone(),
        });
        build(&spec.local.build, &workdir).await?;
    }

    let databases = start_databases(
        &loaded,
        options.postgres_bin_dir.as_deref(),
        &state_dir,
        &logs_dir,
        events,
    )
    .await?;
    let database_env: BTreeMap<String, BTreeMap<String, String>> = databases
        .iter()
        .map(|(key, database)| (key.clone(), database.env()))
        .collect();
    let databases: Vec<Arc<database::LocalDatabase>> = databases.into_values().collect();

    // Bind every proxy first: services reference each other by proxy URL.
    let mut listeners = BTreeMap::new();
    for (name, service) in &spec.services {
        let local = service.local.as_ref().with_context(|| {
            format!("service `{name}` has no `local` section, so it cannot run with `dashctl up`")
        })?;
        // Internal services are reachable from this machine only, whatever public_address says.
        let ip = if service.public {
            spec.local.public_address
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let address = SocketAddr::new(ip, local.listen_port.unwrap_or(0));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("{name}: cannot listen on {address} (is another `dashctl up` or program using it?)"))?;
        listeners.insert(name.clone(), listener);
    }

    let http = reqwest::Client::builder()
        .build()
        .context("building the health-check client")?;
    let context = Arc::new(RunContext {
        workdir,
        logs_dir: logs_dir.clone(),
    });
    let mut services = BTreeMap::new();
    for (name, listener) in &listeners {
        let service = &spec.services[name];
        let settings = ServiceSettings {
            name: name.clone(),
            public: service.public,
            listen: listener.local_addr()?,
            scaling: service.scaling.clone(),
            health: HealthSettings {
                path: service.health.path.clone(),
                interval: spec.local.health_interval.0,
                healthy_threshold: service.health.healthy_threshold,
                unhealthy_threshold: service.health.unhealthy_threshold,
            },
            drain_timeout: spec.local.drain_timeout.0,
            upstream_timeout: spec.local.upstream_timeout.0,
        };
        services.insert(
            name.clone(),
            Arc::new(ServiceRuntime::new(settings, context.clone(), http.clone())),
        );
    }
    let urls: BTreeMap<String, String> = services
        .iter()
        .map(|(name, service)| (name.clone(), service.url()))
        .collect();
    let platform = Arc::new(LocalPlatform {
        services: services.clone(),
    });

    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (name, listener) in listeners {
        let service = services[&name].clone();
        let stop = stop.clone();
        let raw_lines = spec.services[&name]
            .local
            .as_ref()
            .is_some_and(|local| local.raw_request_lines);
        let lines = if raw_lines {
            service_kit::RequestLines::Legacy
        } else {
            service_kit::RequestLines::Strict
        };
        tasks.spawn(async move {
            if let Err(error) = proxy::serve(listener, service, lines, stop).await {
                tracing::error!(service = %name, "proxy stopped: {error}");
            }
        });
    }

    let control_listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the control API")?;
    let token = random_token()?;
    let control_file = ControlFile {
        pid: me.pid,
        start_ticks: Some(me.start_ticks),
        url: format!("http://{}", control_listener.local_addr()?),
        token: token.clone(),
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        spec: std::path::absolute(&loaded.path).unwrap_or_else(|_| loaded.path.clone()),
        children: Vec::new(),
    };
    control_file
        .write(&state_dir)
        .context("writing control.json")?;
    let control_state = Arc::new(ControlState {
        platform: platform.clone(),
        loaded: loaded.clone(),
        token,
        stop: stop.clone(),
        urls: urls.clone(),
        database_env: database_env.clone(),
        databases: databases.clone(),
        rollouts: tokio::sync::Mutex::new(()),
    });
    {
        let app = control::router(control_state);
        let stop = stop.clone();
        tasks.spawn(async move {
            if let Err(error) = service_kit::server::serve(
                control_listener,
                app,
                service_kit::RequestLines::Strict,
                service_kit::ConnectionLimits::default(),
                stop.cancelled_owned(),
            )
            .await
            {
                tracing::error!("control API stopped: {error}");
            }
        });
    }

    // First start: every service goes live on blue at once. No health wait here: services
    // start in parallel and the proxies answer 503 until an instance is ready.
    for (name, service) in &spec.services {
        let release = LocalRelease::from_spec(service, &urls, &database_env, &state_dir)
            .with_context(|| format!("service `{name}` has no `local` section"))?;
        let runtime = &services[name];
        let color = runtime.live_color().unwrap_or(Color::Blue);
        platform
            .start_release(name, color, &release)
            .await
            .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
        platform
            .shift_traffic(name, color, 100)
            .await
            .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
        let policy = autoscaler::Policy {
            min: service.scaling.min,
            max: service.scaling.max,
            requests_per_target: service.scaling.requests_per_target,
            scale_out_cooldown: service.scaling.scale_out_cooldown.0,
            scale_in_cooldown: service.scaling.scale_in_cooldown.0,
        };
        tasks.spawn(autoscaler::run(
            runtime.clone(),
            policy,
            spec.local.autoscale_interval.0,
            spec.local.metric_window.0,
            stop.clone(),
        ));
    }
    tasks.spawn(track_children(
        control_file,
        state_dir.clone(),
        services.clone(),
        databases.clone(),
        stop.clone(),
    ));

    events.emit(Event::Up(Running {
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        services: services
            .iter()
            .map(|(name, service)| LocalEndpoint {
                service: name.clone(),
                url: service.url(),
                public: service.public,
            })
            .collect(),
        logs_dir,
        spec: loaded.path.clone(),
    }));

    wait_for_stop(&stop).await;
    events.emit(Event::Stopping);
    stop.cancel();
    futures_util::future::join_all(services.values().map(|service| service.stop_all())).await;
    // Databases last: instances may still be writing while they drain.
    futures_util::future::join_all(databases.iter().map(|database| database.stop())).await;
    while tasks.join_next().await.is_some() {}
    let _ = std::fs::remove_file(control_file::path(&state_dir));
    events.emit(Event::Stopped);
    Ok(())
}

async fn wait_for_stop(stop: &CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
        () = stop.cancelled() => {}
    }
}

/// A previous `up` that is still running is an error; one that died (SIGKILL, power loss)
/// may have left instances behind, whose process groups are stopped here. Only processes that
/// are provably the recorded ones (same pid and start time) are signalled: a pid reused since
/// belongs to someone else.
async fn clean_up_previous_run(
    state_dir: &Path,
    me: ProcessIdentity,
    events: &Events,
) -> anyhow::Result<()> {
    let Some(previous) = ControlFile::read(state_dir).context("reading control.json")? else {
        return Ok(());
    };
    if let Some(running) = previous.running_up().filter(|running| *running != me) {
        bail!(
            "dashctl up is already running for {} ({}) as pid {}; stop it with `dashctl down -f {}`",
            previous.app,
            previous.environment,
            running.pid,
            previous.spec.display()
        );
    }
    let leftovers: Vec<ProcessIdentity> = previous
        .identified_children()
        .filter(ProcessIdentity::is_same_process)
        .collect();
    if !leftovers.is_empty() {
        events.emit(Event::StoppingLeftovers {
            count: leftovers.len(),
        });
        futures_util::future::join_all(
            leftovers
                .iter()
                .map(|leftover| leftover.stop_group(LEFTOVER_GRACE)),
        )
        .await;
    }
    let _ = std::fs::remove_file(control_file::path(state_dir));
    Ok(())
}

/// How long leftover instances get to exit on SIGTERM before their groups get SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

/// Keeps control.json's list of child processes current.
async fn track_children(
    mut file: ControlFile,
    state_dir: std::path::PathBuf,
    services: BTreeMap<String, Arc<ServiceRuntime>>,
    databases: Vec<Arc<database::LocalDatabase>>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        let mut children: Vec<RecordedChild> = services
            .values()
            .flat_map(|service| service.processes())
            .chain(databases.iter().filter_map(|database| database.process()))
            .map(RecordedChild::Identified)
            .collect();
        children.sort_unstable();
        if children != file.children {
            file.children = children;
            if let Err(error) = file.write(&state_dir) {
                tracing::warn!("could not update control.json: {error}");
            }
        }
    }
}

/// A PostgreSQL server per database in the spec, ready before any instance starts. None
/// installed: one line saying how to install it (a spec without databases needs none).
async fn start_databases(
    loaded: &LoadedSpec,
    bin_dir: Option<&Path>,
    state_dir: &Path,
    logs_dir: &Path,
    events: &Events,
) -> anyhow::Result<BTreeMap<String, Arc<database::LocalDatabase>>> {
    let mut started = BTreeMap::new();
    if loaded.spec.databases.is_empty() {
        return Ok(started);
    }
    let databases = loaded
        .spec
        .databases
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let installation = match bin_dir {
        Some(dir) => local_postgres::Installation::at(dir).ok_or_else(|| {
            anyhow::anyhow!(
                "no PostgreSQL in {} (--postgres-bin-dir: it needs initdb and postgres); the spec's databases ({databases}) run on a local PostgreSQL server; install it with `apt-get install postgresql`",
                dir.display()
            )
        })?,
        None => local_postgres::Installation::find().map_err(|missing| {
            anyhow::anyhow!(
                "{missing}; the spec's databases ({databases}) run on a local PostgreSQL server"
            )
        })?,
    };
    for (key, definition) in &loaded.spec.databases {
        match database::LocalDatabase::start(
            installation.clone(),
            key,
            definition,
            state_dir,
            logs_dir,
            events,
        )
        .await
        {
            Ok(database) => {
                started.insert(key.clone(), database);
            }
            Err(error) => {
                futures_util::future::join_all(started.values().map(|database| database.stop()))
                    .await;
                return Err(error);
            }
        }
    }
    Ok(started)
}

async fn build(command: &[String], workdir: &Path) -> anyhow::Result<()> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .current_dir(workdir)
        .status()
        .await
        .with_context(|| format!("running the build command `{}`", command.join(" ")))?;
    if !status.success() {
        bail!(
            "the build command `{}` failed ({status})",
            command.join(" ")
        );
    }
    Ok(())
}

/// 32 random bytes, hex-encoded.
fn random_token() -> anyhow::Result<String> {
    Ok(hex::encode(rand::random::<[u8; 32]>()))
}
