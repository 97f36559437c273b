//! paintshop integration tests: one binary, one module per concern. Tests of what is stored
//! run twice, on SQLite and on PostgreSQL (`NAME::sqlite`, `NAME::postgres`); without
//! PostgreSQL installed the second are skipped with a notice, except on CI (`CI` set).

mod admin_api;
mod cli;
mod hard_instances;
mod harness;
mod hostile_clients;
mod legacy_v1;
mod shared_state;
mod solver_properties;
mod v2_api;
