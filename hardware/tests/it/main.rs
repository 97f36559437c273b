//! hardware integration tests: one binary, one module per concern.

mod harness;
mod refresh;
mod routes;
mod store;
