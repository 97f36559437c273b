use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// portal: the public hardware-availability dashboard. Serves from a cache that a background
/// task refreshes from the hardware service, so a page never waits on hardware.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Loopback by default; a load balancer or `dashctl up`'s public
    /// proxy faces the internet, not the portal itself.
    #[arg(long, env = "PORTAL_BIND", default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,

    /// Address of the monitor port: `/metrics`, `/healthz`, `/readyz`. Never the public one;
    /// `127.0.0.1:0` picks a free port.
    #[arg(long, env = "PORTAL_MONITOR_BIND", default_value = "127.0.0.1:9100")]
    pub monitor_bind: SocketAddr,

    /// Base URL of the hardware service.
    #[arg(long, env = "HARDWARE_URL", default_value = "http://127.0.0.1:5001")]
    pub hardware_url: String,

    /// Seconds between two polls of hardware (hardware answers from memory, so this is cheap).
    #[arg(long, env = "PORTAL_POLL_INTERVAL", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval: u64,

    /// Milliseconds one call to hardware may take before it is abandoned and retried.
    #[arg(long, env = "PORTAL_HARDWARE_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub hardware_timeout_ms: u64,

    /// Attempts per poll (with exponential backoff between them) before the poll counts as failed.
    #[arg(long, env = "PORTAL_HARDWARE_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub hardware_attempts: u32,

    /// Seconds without a successful poll after which the page shows a stale notice.
    #[arg(long, env = "PORTAL_STALE_AFTER", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub stale_after: u64,

    #[command(flatten)]
    pub connections: service_kit::server::ConnectionArgs,
}

impl Config {
    pub fn poller_settings(&self) -> PollerSettings {
        PollerSettings {
            hardware_url: self.hardware_url.trim_end_matches('/').to_owned(),
            interval: Duration::from_secs(self.poll_interval),
            timeout: Duration::from_millis(self.hardware_timeout_ms),
            attempts: self.hardware_attempts,
            stale_after: Duration::from_secs(self.stale_after),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PollerSettings {
    pub hardware_url: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub attempts: u32,
    pub stale_after: Duration,
}
