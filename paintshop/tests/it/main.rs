//! paintshop integration tests: one binary, one module per concern.

mod cli;
mod harness;
mod hostile_clients;
mod legacy_v1;
mod solver_properties;
mod v2_api;
