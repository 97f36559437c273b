//! dashctl: reads a YAML spec and runs its services with blue/green rollouts, rollback,
//! request-count autoscaling and status. `main.rs` only parses arguments and maps errors to
//! exit codes; everything else lives here so tests can reach it.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod events;
pub mod local;
pub mod log_line;
pub mod plan;
pub mod rollout;
pub mod spec;
pub mod table;
