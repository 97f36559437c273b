//! The local platform: `dashctl up` runs a spec's services on this machine with the same
//! semantics as on AWS. Each service gets a proxy (public ones on `local.public_address`,
//! internal ones on loopback only), supervised instances in two colors, a request-count
//! autoscaler, and blue/green through the shared rollout engine.

mod api;
mod autoscaler;
pub mod client;
mod color_metrics;
mod control;
mod control_file;
mod database;
mod deploy;
mod instance;
mod leftovers;
pub mod log_reader;
mod log_writer;
mod platform;
mod port;
mod process;
mod proxy;
mod relayed_body;
mod release;
mod rollback;
mod service;
mod unfinished_rollout;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use api::{ActionError, ActionReport, RolloutRequest, StatusReport};
pub use service::ServiceStatus;

use control::ControlState;
use control_file::ControlFile;
use database::LocalDatabase;
use instance::{HealthSettings, RunContext};
use platform::LocalPlatform;
use process::ProcessIdentity;
use release::LocalRelease;
use service::{ServiceRuntime, ServiceSettings};

use crate::events::{Event, Events, LocalEndpoint, Running};
use crate::rollout::{Color, Platform};
use crate::spec::{LoadedSpec, Spec};

pub struct UpOptions {
    /// Skip the spec's `local.build` command.
    pub no_build: bool,
    /// PostgreSQL's programs, when not found the usual way.
    pub postgres_bin_dir: Option<std::path::PathBuf>,
}

/// The service runtimes by service name.
type Services = BTreeMap<String, Arc<ServiceRuntime>>;

/// Runs the spec until Ctrl-C, SIGTERM or `dashctl down`, then drains and stops everything;
/// says what it does through `events`.
pub async fn up(loaded: LoadedSpec, options: UpOptions, events: &Events) -> anyhow::Result<()> {
    let spec = &loaded.spec;
    let workdir = loaded.workdir_absolute();
    let state_dir = loaded.state_dir_absolute();
    let logs_dir = state_dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .with_context(|| format!("creating {}", logs_dir.display()))?;
    let me = this_process()?;
    leftovers::clean_up_previous_run(&state_dir, me, events).await?;

    if !spec.local.build.is_empty() && !options.no_build {
        events.emit(Event::Building {
            command: spec.local.build.clone(),
        });
        build(&spec.local.build, &workdir).await?;
    }

    let databases = database::start_all(
        &spec.databases,
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
    let databases: Vec<Arc<LocalDatabase>> = databases.into_values().collect();

    // Bind every proxy first: services reference each other by proxy URL.
    let listeners = bind_proxies(spec).await?;
    let context = Arc::new(RunContext {
        workdir,
        logs_dir: logs_dir.clone(),
    });
    let services = service_runtimes(spec, &listeners, context)?;
    let urls: BTreeMap<String, String> = services
        .iter()
        .map(|(name, service)| (name.clone(), service.url()))
        .collect();
    let platform = Arc::new(LocalPlatform::new(services.clone()));

    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    serve_proxies(&mut tasks, spec, listeners, &services, &stop);
    let control_state = Arc::new(ControlState {
        platform: platform.clone(),
        loaded: loaded.clone(),
        token: random_token()?,
        stop: stop.clone(),
        urls: urls.clone(),
        database_env: database_env.clone(),
        databases: databases.clone(),
        rollouts: tokio::sync::Mutex::new(()),
    });
    let control_file = serve_control_api(&mut tasks, control_state, me, &state_dir).await?;

    // First start: every service goes live on blue at once. No health wait here: services
    // start in parallel and the proxies answer 503 until an instance is ready.
    for (name, service) in &spec.services {
        let release = LocalRelease::from_spec(service, &urls, &database_env, &state_dir)
            .with_context(|| format!("service `{name}` has no `local` section"))?;
        go_live(&platform, name, &release).await?;
        tasks.spawn(autoscaler::run(
            services[name].clone(),
            autoscaler::Policy::from_spec(&service.scaling),
            spec.local.autoscale_interval.0,
            spec.local.metric_window.0,
            stop.clone(),
        ));
    }
    tasks.spawn(leftovers::track_children(
        control_file,
        state_dir.clone(),
        services.clone(),
        databases.clone(),
        stop.clone(),
    ));

    events.emit(Event::Up(running(&loaded, &services, logs_dir)));
    wait_for_stop(&stop).await;
    events.emit(Event::Stopping);
    shut_down(&stop, tasks, &services, &databases, &state_dir).await;
    events.emit(Event::Stopped);
    Ok(())
}

/// This process, as recorded in control.json so other commands can tell it from a later one
/// that reuses its pid; without it nobody could trust the file, so `up` does not start.
fn this_process() -> anyhow::Result<ProcessIdentity> {
    ProcessIdentity::current(std::process::id()).context(
        "cannot read this process's start time from /proc/self/stat; \
         dashctl up needs /proc to tell its processes from others",
    )
}

/// One listener per service: public services on `local.public_address`, internal ones on
/// loopback, each on its `listen_port` or a free one.
async fn bind_proxies(spec: &Spec) -> anyhow::Result<BTreeMap<String, TcpListener>> {
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
        let listener = TcpListener::bind(address).await.with_context(|| {
            format!(
                "{name}: cannot listen on {address} (is another `dashctl up` or program using it?)"
            )
        })?;
        listeners.insert(name.clone(), listener);
    }
    Ok(listeners)
}

/// A runtime per service (no instances yet), with the spec's health, drain and timeout
/// settings, behind the proxy bound for it.
fn service_runtimes(
    spec: &Spec,
    listeners: &BTreeMap<String, TcpListener>,
    context: Arc<RunContext>,
) -> anyhow::Result<Services> {
    let http = reqwest::Client::builder()
        .build()
        .context("building the health-check client")?;
    let mut services = BTreeMap::new();
    for (name, listener) in listeners {
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
    Ok(services)
}

/// A proxy task per service until `stop`; a service with `raw_request_lines` accepts the
/// legacy request lines its clients send.
fn serve_proxies(
    tasks: &mut JoinSet<()>,
    spec: &Spec,
    listeners: BTreeMap<String, TcpListener>,
    services: &Services,
    stop: &CancellationToken,
) {
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
}

/// Binds the control API on loopback, announces it (address and token) in control.json and
/// serves it until `state.stop`; returns what control.json holds.
async fn serve_control_api(
    tasks: &mut JoinSet<()>,
    state: Arc<ControlState>,
    me: ProcessIdentity,
    state_dir: &Path,
) -> anyhow::Result<ControlFile> {
    let control_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the control API")?;
    let loaded = &state.loaded;
    let control_file = ControlFile {
        pid: me.pid,
        start_ticks: Some(me.start_ticks),
        url: format!("http://{}", control_listener.local_addr()?),
        token: state.token.clone(),
        app: loaded.spec.app.clone(),
        environment: loaded.spec.environment.clone(),
        spec: std::path::absolute(&loaded.path).unwrap_or_else(|_| loaded.path.clone()),
        children: Vec::new(),
    };
    control_file
        .write(state_dir)
        .context("writing control.json")?;
    let stop = state.stop.clone();
    let app = control::router(state);
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
    Ok(control_file)
}

/// Starts `release` on the service's live color (blue on a first start) and sends it all
/// traffic.
async fn go_live(
    platform: &LocalPlatform,
    name: &str,
    release: &LocalRelease,
) -> anyhow::Result<()> {
    let color = platform.services[name].live_color().unwrap_or(Color::Blue);
    platform
        .start_release(name, color, release)
        .await
        .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
    platform
        .shift_traffic(name, color, 100)
        .await
        .map_err(|error| anyhow::anyhow!("{name}: {error}"))
}

/// What `up` runs, for the event that says it is up.
fn running(loaded: &LoadedSpec, services: &Services, logs_dir: std::path::PathBuf) -> Running {
    Running {
        app: loaded.spec.app.clone(),
        environment: loaded.spec.environment.clone(),
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
    }
}

/// Stops the proxies and the control API, drains and stops every instance, then the
/// databases, waits for every task and removes control.json.
async fn shut_down(
    stop: &CancellationToken,
    mut tasks: JoinSet<()>,
    services: &Services,
    databases: &[Arc<LocalDatabase>],
    state_dir: &Path,
) {
    stop.cancel();
    futures_util::future::join_all(services.values().map(|service| service.stop_all())).await;
    // Databases last: instances may still be writing while they drain.
    futures_util::future::join_all(databases.iter().map(|database| database.stop())).await;
    while tasks.join_next().await.is_some() {}
    let _ = std::fs::remove_file(control_file::path(state_dir));
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
