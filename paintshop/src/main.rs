use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use paintshop::admin_key::AdminKey;
use paintshop::client_ip::TrustedProxies;
use paintshop::config::{self, Cli, Command, ServeArgs, UsersAction};
use paintshop::legacy_cases::parse_cases;
use paintshop::legacy_input::Limits;
use paintshop::problem::legacy_answer;
use paintshop::state::Protections;
use paintshop::store::Store;
use paintshop::user_names::user_name;
use paintshop::{AppState, ServerSettings, api_keys, solver};
use service_kit::unix_millis;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    service_kit::init_tracing();
    let outcome = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Users {
            action,
            database_url,
        }) => users(action, database_url.as_deref()).await,
        Some(Command::Solve { file }) => solve_file(&file),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("paintshop: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn limits(args: &ServeArgs) -> Limits {
    let max_pairs = usize::try_from(args.max_pairs).unwrap_or(usize::MAX);
    Limits {
        max_colors: args.max_colors,
        max_customers: max_pairs,
        max_pairs,
    }
}

fn protections(args: &ServeArgs, limits: &Limits) -> Protections {
    Protections {
        requests_per_minute_per_key: args.rate_limit_per_minute,
        anonymous_requests_per_minute: args.anonymous_rate_limit_per_minute,
        failed_keys_per_minute: args.bad_key_limit_per_minute,
        max_concurrent_solves: args
            .max_concurrent_solves
            .and_then(|solves| usize::try_from(solves).ok())
            .unwrap_or_else(|| Protections::default().max_concurrent_solves),
        max_body_bytes: args
            .max_body_bytes
            .unwrap_or_else(|| Protections::body_limit_for(limits)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if let Some(rate) = &args.failure_rate {
        tracing::warn!(value = %rate, "--failure-rate is accepted for compatibility and ignored");
    }
    if args.enable_crash {
        tracing::warn!("GET /crash is enabled: any client can stop this process");
    }
    let admin_key =
        AdminKey::from_sources(args.admin_key_file.as_deref(), args.admin_key.as_deref())
            .context("reading the admin key")?;
    let database = config::database(args.database_url.as_deref())?;
    tracing::info!(database = %database.describe(), admin_api = admin_key.is_some(), "opening the database");
    let store = Store::open(&database)
        .await
        .context("opening the database")?;
    let api_address = SocketAddr::new(args.host, args.port);
    let monitor_address = SocketAddr::new(args.host, args.monitor);
    let api = tokio::net::TcpListener::bind(api_address)
        .await
        .with_context(|| format!("cannot listen on {api_address}"))?;
    let monitor = tokio::net::TcpListener::bind(monitor_address)
        .await
        .with_context(|| format!("cannot listen on {monitor_address}"))?;
    tracing::info!(api = %api.local_addr()?, monitor = %monitor.local_addr()?, "paintshop listening");
    let limits = limits(&args);
    let protections = protections(&args, &limits);
    tracing::info!(
        max_colors = limits.max_colors,
        max_pairs = limits.max_pairs,
        max_body_bytes = protections.max_body_bytes,
        max_concurrent_solves = protections.max_concurrent_solves,
        trusted_proxies = args.trusted_proxies.len(),
        "limits"
    );
    let state = AppState::new(
        store,
        limits,
        protections,
        TrustedProxies::new(args.trusted_proxies.clone()),
        args.enable_crash,
    )
    .with_admin_key(admin_key);
    let settings = ServerSettings {
        request_timeout: Duration::from_secs(args.request_timeout),
        connections: args.connections.limits(),
        max_concurrent_requests: usize::try_from(args.max_concurrent_requests)
            .unwrap_or(usize::MAX),
        history_retention: Duration::from_secs(u64::from(args.history_retention_days) * 86_400),
    };
    paintshop::serve(
        api,
        monitor,
        state,
        settings,
        service_kit::shutdown_signal(),
    )
    .await
}

async fn users(action: UsersAction, database_url: Option<&str>) -> anyhow::Result<()> {
    let store = Store::open(&config::database(database_url)?)
        .await
        .context("opening the database")?;
    match action {
        UsersAction::Add { name } => {
            let name = user_name(&name)?;
            let key = api_keys::generate_key();
            store
                .add_user(name, &api_keys::hash_key(&key), unix_millis())
                .await?;
            println!(
                "created user {name:?}; its API key is shown once, below. Send it as `Authorization: Bearer <key>`."
            );
            println!("{key}");
        }
        UsersAction::List => {
            let users = store.users().await?;
            if users.is_empty() {
                println!("no users; create one with `paintshop users add NAME`");
            }
            for user in users {
                let status = if user.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{status}", user.name);
            }
        }
        UsersAction::Revoke { name } => {
            store.revoke_user(&name, unix_millis()).await?;
            println!("revoked {name:?}: its key no longer works");
        }
    }
    Ok(())
}

fn solve_file(path: &std::path::Path) -> anyhow::Result<()> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    let problems =
        parse_cases(&text, &Limits::default()).with_context(|| format!("in {}", path.display()))?;
    let mut out = String::new();
    for (index, problem) in problems.iter().enumerate() {
        out.push_str(&format!(
            "Case #{}: {}\n",
            index + 1,
            legacy_answer(&solver::solve(problem))
        ));
    }
    print!("{out}");
    Ok(())
}
