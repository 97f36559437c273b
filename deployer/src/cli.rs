//! Command-line types only.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// dashctl: runs the services of a YAML spec, on this machine today (`dashctl up`), with
/// blue/green rollouts, instant rollback, request-count autoscaling and clear status.
///
/// Start here: `dashctl up` runs config/dashboard.yaml and serves the dashboard at
/// http://127.0.0.1:8080. In another terminal, `dashctl status` shows what runs.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SpecArg {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "file",
        env = "DASHCTL_SPEC",
        default_value = "config/dashboard.yaml"
    )]
    pub file: PathBuf,
}

/// Where a command acts. Only the local platform exists so far.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Environment {
    /// This machine, through a running `dashctl up`.
    #[default]
    Local,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec without running anything: unknown keys, types, ranges, names, references.
    /// Exits 2 and names file:line:column for each problem.
    Validate {
        #[command(flatten)]
        spec: SpecArg,
    },
    /// Run the spec on this machine until Ctrl-C or `dashctl down`: each service behind its
    /// own proxy (internal ones on loopback only), supervised and autoscaled.
    Up {
        #[command(flatten)]
        spec: SpecArg,
        /// Skip the spec's `local.build` command (use binaries already built).
        #[arg(long)]
        no_build: bool,
    },
    /// Stop a running `dashctl up`: drains and stops every instance, then exits.
    Down {
        #[command(flatten)]
        spec: SpecArg,
    },
    /// Show each service: live color, instances with pids and restarts, request rate, URL.
    Status {
        #[command(flatten)]
        spec: SpecArg,
        #[arg(long, value_enum, default_value_t)]
        env: Environment,
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Blue/green deploy of the spec as it is now: start the idle color, wait until healthy,
    /// switch traffic, bake, retire the old color. Unchanged services are skipped.
    Deploy {
        #[command(flatten)]
        spec: SpecArg,
        #[arg(long, value_enum, default_value_t)]
        env: Environment,
        /// Deploy one service (always redeployed, even if unchanged).
        #[arg(long)]
        service: Option<String>,
    },
    /// Switch a service back to the color it ran before the last deploy.
    Rollback {
        #[command(flatten)]
        spec: SpecArg,
        #[arg(long, value_enum, default_value_t)]
        env: Environment,
        #[arg(long)]
        service: String,
    },
}
