use anyhow::Context;
use clap::Parser;
use portal::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::init_tracing();
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let monitor = tokio::net::TcpListener::bind(config.monitor_bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.monitor_bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let monitor_address = monitor
        .local_addr()
        .context("reading the monitor address")?;
    tracing::info!(%address, monitor = %monitor_address, hardware_url = %config.hardware_url, "portal listening");
    portal::serve(
        listener,
        monitor,
        config.poller_settings(),
        config.connections.limits(),
        service_kit::shutdown_signal(),
    )
    .await
}
