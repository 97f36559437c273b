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
        /// The database the server uses; chosen as for the server (see `paintshop --help`):
        /// this URL, else PostgreSQL from PGHOST and the other PG* variables, else
        /// sqlite://paintshop.db. On a deployment with no shell, use the admin API instead.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
        database_url: Option<String>,
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

    /// Users, request history and per-key request counts: `sqlite://FILE` (one instance) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]` (any number of instances
    /// sharing users, history and limits). Without it, PostgreSQL is used when PGHOST is set,
    /// with PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and PGSSLROOTCERT read as libpq
    /// reads them; else sqlite://paintshop.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Turns on the admin API (/admin/v1/users: list, create, revoke users) behind the key in
    /// this file (at least 24 characters, e.g. `openssl rand -hex 32`), sent as
    /// `Authorization: Bearer <admin key>`. The key can instead be given in the environment
    /// variable PAINTSHOP_ADMIN_KEY. Without either, /admin/ answers 404.
    #[arg(long, env = "PAINTSHOP_ADMIN_KEY_FILE", value_name = "PATH")]
    pub admin_key_file: Option<PathBuf>,

    /// The admin key itself; environment only (a command-line value would show in `ps`).
    #[arg(long, env = "PAINTSHOP_ADMIN_KEY", hide = true, hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Largest accepted /v2/solve body, in bytes. Default: what the largest accepted instance
    /// needs (64 bytes per pair, plus 64 KiB), so a body can never be bigger than any instance
    /// the server would solve.
    #[arg(long, env = "PAINTSHOP_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Largest instance accepted: colors. Every color costs memory and answer bytes even when
    /// no customer names it, so this bounds what a tiny request can make the server do.
    #[arg(long, env = "PAINTSHOP_MAX_COLORS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_colors: u32,

    /// Largest instance accepted: total (color, finish) pairs; also the most customers.
    #[arg(long, env = "PAINTSHOP_MAX_PAIRS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_pairs: u64,

    /// Requests per minute allowed per API key, across all instances sharing the database
    /// (counted there in fixed one-minute windows).
    #[arg(long, env = "PAINTSHOP_RATE_LIMIT", default_value = "600")]
    pub rate_limit_per_minute: NonZeroU32,

    /// Anonymous /v1/ requests per minute allowed per client IP address, per instance. Off by
    /// default (legacy clients were never limited); see --trusted-proxy when behind a load
    /// balancer.
    #[arg(long, env = "PAINTSHOP_ANONYMOUS_RATE_LIMIT")]
    pub anonymous_rate_limit_per_minute: Option<NonZeroU32>,

    /// Failed API-key or admin-key attempts per minute allowed per client IP address, per
    /// instance; beyond that every keyed request from that address gets 429 until the minute
    /// is over.
    #[arg(long, env = "PAINTSHOP_BAD_KEY_LIMIT", default_value = "10")]
    pub bad_key_limit_per_minute: NonZeroU32,

    /// Networks of load balancers whose `X-Forwarded-For` is believed (comma-separated CIDRs,
    /// e.g. the VPC's 10.0.0.0/16). Requests from anywhere else are keyed by their own address.
    #[arg(
        long = "trusted-proxy",
        env = "PAINTSHOP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Requests handled at once on the API port; more are answered 503 with Retry-After.
    #[arg(long, env = "PAINTSHOP_MAX_CONCURRENT_REQUESTS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_concurrent_requests: u64,

    /// Large solves run at once (small ones run inline and are not counted); more are answered
    /// 503 with Retry-After. Default: the number of CPUs.
    #[arg(long, env = "PAINTSHOP_MAX_CONCURRENT_SOLVES", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_concurrent_solves: Option<u64>,

    /// Days each history entry is kept; older entries are deleted hourly.
    #[arg(long, env = "PAINTSHOP_HISTORY_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub history_retention_days: u32,

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

/// The database to use: `url` when given, else the PG* environment when PGHOST is set, else
/// the SQLite default.
pub fn database(url: Option<&str>) -> Result<service_db::Target, service_db::TargetError> {
    service_db::Target::resolve(url, crate::store::DEFAULT_DATABASE_URL)
}
