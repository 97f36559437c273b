use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::availability::LEGACY_COMPUTE_COST;
use crate::refresher::RefreshSettings;

/// hardware: computes the availability of every hardware profile in the background and serves
/// the latest values. Internal: it listens on loopback unless told otherwise.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Keep it private: this service must never face the internet.
    #[arg(long, env = "HARDWARE_BIND", default_value = "127.0.0.1:5001")]
    pub bind: SocketAddr,

    /// Database holding the `hardware` profiles table and the persisted snapshot:
    /// `sqlite://FILE` or `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]`.
    /// Without it, PostgreSQL is used when PGHOST is set (with PGPORT, PGUSER, PGPASSWORD,
    /// PGDATABASE, PGSSLMODE, PGSSLROOTCERT as libpq reads them), else sqlite://hardware.db.
    /// Several instances share a PostgreSQL database safely; a SQLite file is for one.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// How many availability computations may run at once (each costs 5 s of a worker).
    /// Defaults to the number of CPUs.
    #[arg(long, env = "HARDWARE_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Seconds between the starts of two refresh rounds (a longer round starts the next at once).
    #[arg(long, env = "HARDWARE_REFRESH_INTERVAL", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub refresh_interval: u64,

    /// Test-only: milliseconds one computation costs. Production keeps the legacy 5000.
    #[arg(long, env = "HARDWARE_COMPUTE_COST_MS", default_value_t = LEGACY_COMPUTE_COST.as_millis() as u64, hide = true)]
    pub compute_cost_ms: u64,

    #[command(flatten)]
    pub connections: service_kit::server::ConnectionArgs,
}

impl Config {
    /// The database to use: the URL given, else the PG* environment, else the SQLite default.
    pub fn database(&self) -> Result<service_db::Target, service_db::TargetError> {
        service_db::Target::resolve(
            self.database_url.as_deref(),
            crate::store::DEFAULT_DATABASE_URL,
        )
    }

    pub fn refresh_settings(&self) -> RefreshSettings {
        let workers = self.workers.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2)
        });
        RefreshSettings {
            workers,
            interval: Duration::from_secs(self.refresh_interval),
            compute_cost: Duration::from_millis(self.compute_cost_ms),
        }
    }
}
