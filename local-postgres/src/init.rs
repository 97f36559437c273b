//! Creating a cluster: `initdb`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::check_output;
use crate::run_as::RunAs;
use crate::{Error, Installation};

/// Whether `data_dir` already holds a cluster (then [`Installation::init`] must not run again).
pub fn is_initialized(data_dir: &Path) -> bool {
    data_dir.join("PG_VERSION").is_file()
}

impl Installation {
    /// Creates a cluster in `data_dir` (which must be missing or empty) whose `superuser`
    /// logs in with the password on the first line of `password_file`. Every connection
    /// needs a password (SCRAM-SHA-256), the encoding is UTF-8 in the C locale, and nothing
    /// is fsynced during the init (a crash then leaves a directory to delete, not to trust).
    ///
    /// Run as root, `data_dir` is given to the `postgres` user, which must be able to reach it
    /// (every parent directory searchable by others).
    pub fn init(
        &self,
        data_dir: &Path,
        superuser: &str,
        password_file: &Path,
    ) -> Result<(), Error> {
        let run_as = RunAs::for_this_process()?;
        let password = std::fs::read_to_string(password_file).map_err(Error::io(format!(
            "cannot read the password file {}",
            password_file.display()
        )))?;
        let password = password.lines().next().unwrap_or_default();
        if password.is_empty() {
            return Err(Error::EmptyPassword {
                path: password_file.to_path_buf(),
            });
        }
        run_as.private_dir(data_dir)?;
        // initdb reads the password from a file. The caller's may not be readable by the
        // `postgres` user, so initdb gets a private copy that it is, deleted afterwards.
        let mut copy = tempfile::NamedTempFile::new()
            .map_err(Error::io("cannot create a temporary password file"))?;
        writeln!(copy, "{password}")
            .and_then(|()| copy.flush())
            .map_err(Error::io("cannot write a temporary password file"))?;
        run_as.give(copy.path())?;

        let program = self.program("initdb");
        let mut command = Command::new(&program);
        command
            .arg("--pgdata")
            .arg(data_dir)
            .arg("--username")
            .arg(superuser)
            .arg(format!("--pwfile={}", copy.path().display()))
            .args([
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(data_dir)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        run_as.apply(&mut command);
        let output = command.output().map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
        check_output(&format!("initdb of {}", data_dir.display()), &output)
    }
}
