use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// paintshop: the paint-batch optimizer. Without a subcommand it serves the HTTP API on
/// --port (legacy /v1/ and authenticated /v2/) and Prometheus metrics on --monitor.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage API users (keys are printed once and stored hashed).
    Users {
        #[command(subcommand)]
        action: UsersAction,
        /// The database the server uses.
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "sqlite://paintshop.db",
            global = true
        )]
        database_url: String,
    },
    /// Solve a legacy case file (first line: case count; then N, M and M lines `T X1 Y1 ...`
    /// per case) and print `Case #k: ...` lines.
    Solve {
        /// The case file; `-` reads standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Create a user; its API key is the last line printed.
    Add { name: String },
    /// List users and whether they are active.
    List,
    /// Revoke a user's key at once.
    Revoke { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// HTTP API port.
    #[arg(long, env = "PAINTSHOP_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Monitoring port: /metrics, /healthz, /readyz.
    #[arg(long, env = "PAINTSHOP_MONITOR", default_value_t = 8081)]
    pub monitor: u16,

    /// Address to listen on. Loopback by default; containers set 0.0.0.0 behind a load balancer.
    #[arg(long, env = "PAINTSHOP_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Users and request history.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://paintshop.db")]
    pub database_url: String,

    /// Largest accepted /v2/solve body, in bytes.
    #[arg(long, env = "PAINTSHOP_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest instance accepted: colors.
    #[arg(long, env = "PAINTSHOP_MAX_COLORS", default_value_t = 2_000_000)]
    pub max_colors: u32,

    /// Largest instance accepted: total (color, finish) pairs.
    #[arg(long, env = "PAINTSHOP_MAX_PAIRS", default_value_t = 5_000_000)]
    pub max_pairs: usize,

    /// Requests per minute allowed per API key (anonymous /v1/ calls are not limited).
    #[arg(long, env = "PAINTSHOP_RATE_LIMIT", default_value = "600")]
    pub rate_limit_per_minute: NonZeroU32,

    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "PAINTSHOP_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Enables GET /crash, which exits the process: for self-healing drills only.
    #[arg(long, env = "PAINTSHOP_ENABLE_CRASH")]
    pub enable_crash: bool,

    /// Accepted for compatibility with the legacy command line; it never did anything.
    #[arg(long, hide = true)]
    pub failure_rate: Option<String>,

    #[command(flatten)]
    pub connections: service_kit::server::ConnectionArgs,
}
