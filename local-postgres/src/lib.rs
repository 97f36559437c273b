//! A PostgreSQL server of our own, run from the distribution's install.
//!
//! - [`Installation::find`] locates `initdb` and `postgres` (on `PATH`, else the highest
//!   `/usr/lib/postgresql/*/bin`), or says in one line how to install them ([`NotInstalled`]).
//! - [`Installation::init`] creates a cluster (SCRAM passwords, UTF-8, no fsync during init).
//! - [`Installation::server_command`] is the server in the foreground, on loopback only, for a
//!   supervisor to own; [`Installation::wait_ready`] waits until it accepts connections and
//!   [`Installation::create_database`] creates a database in it.
//! - [`TempServer`] does all of that in a temporary directory, for tests.
//!
//! PostgreSQL refuses to run as root. When this process is root, the server and `initdb` run
//! as the `postgres` system user, and the directories they write are given to that user.
//!
//! Everything here is blocking (it runs short-lived programs and waits for them); async
//! callers use `spawn_blocking`.

mod database;
mod error;
mod init;
mod installation;
mod ready;
mod run_as;
mod server;
mod temp_server;

pub use database::DatabaseCreated;
pub use error::Error;
pub use init::is_initialized;
pub use installation::{Installation, NotInstalled};
pub use server::{Durability, request_fast_shutdown};
pub use temp_server::TempServer;
