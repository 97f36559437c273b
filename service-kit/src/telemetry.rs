use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global tracing subscriber: human-readable on a terminal, one JSON object per
/// line otherwise (so log shippers such as CloudWatch can parse fields). `RUST_LOG` overrides
/// the default `info` level. Safe to call more than once (later calls are no-ops), which keeps
/// tests that start several services in one process simple.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
