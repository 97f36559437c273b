//! Creating a database in a running server: `createdb`, as the superuser, over loopback.

use std::process::{Command, Stdio};

use crate::error::{TAIL_LINES, tail};
use crate::{Error, Installation};

/// What [`Installation::create_database`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseCreated {
    Created,
    /// It was there already (nothing was changed).
    AlreadyExisted,
}

impl Installation {
    /// Creates database `name` in the server on `127.0.0.1:port`, logging in as `superuser`
    /// with `password`. A database that already exists is left as it is.
    pub fn create_database(
        &self,
        port: u16,
        superuser: &str,
        password: &str,
        name: &str,
    ) -> Result<DatabaseCreated, Error> {
        if name.is_empty() || name.len() > 63 || name.starts_with('-') || name.contains('\0') {
            return Err(Error::InvalidDatabaseName(name.to_owned()));
        }
        let program = self.program("createdb");
        let output = Command::new(&program)
            .args(["--host", "127.0.0.1", "--no-password", "--port"])
            .arg(port.to_string())
            .arg("--username")
            .arg(superuser)
            .arg("--")
            .arg(name)
            .env("PGPASSWORD", password)
            .env("LC_ALL", "C")
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Spawn { program, source })?;
        if output.status.success() {
            return Ok(DatabaseCreated::Created);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("already exists") {
            return Ok(DatabaseCreated::AlreadyExisted);
        }
        Err(Error::Failed {
            what: format!("createdb {name}"),
            status: output.status,
            output: tail(&stderr, TAIL_LINES),
        })
    }
}
