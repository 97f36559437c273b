use anyhow::Context;
use clap::Parser;
use hardware::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::init_tracing();
    let settings = config.refresh_settings();
    if settings.compute_cost != hardware::availability::LEGACY_COMPUTE_COST {
        tracing::warn!(
            cost_ms = config.compute_cost_ms,
            "computation cost overridden: test setting, not for production"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let database = config.database()?;
    tracing::info!(%address, workers = settings.workers, refresh_interval_s = config.refresh_interval, database = %database.describe(), "hardware listening");
    hardware::serve_database(
        listener,
        &database,
        settings,
        config.connections.limits(),
        service_kit::shutdown_signal(),
    )
    .await
}
