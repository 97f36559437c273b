//! portal integration tests: one binary, one module per concern.

mod dashboard;
mod end_to_end;
