//! What can go wrong running PostgreSQL.

use std::path::PathBuf;
use std::process::{ExitStatus, Output};
use std::time::Duration;

use crate::NotInstalled;

/// Lines of a program's output or a server log kept in an error.
pub(crate) const TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NotInstalled(#[from] NotInstalled),
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` system user to run it as; install the distribution's `postgresql` package (it creates the user) or `useradd --system postgres`"
    )]
    NoPostgresUser,
    #[error("cannot look up the `postgres` system user")]
    UserLookup(#[source] nix::Error),
    #[error("cannot run {program}", program = program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}):\n{output}")]
    Failed {
        what: String,
        status: ExitStatus,
        /// The end of what it printed.
        output: String,
    },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the password file {} is empty", path.display())]
    EmptyPassword { path: PathBuf },
    #[error("{0:?} is not a usable database name (1 to 63 bytes, not starting with `-`)")]
    InvalidDatabaseName(String),
    #[error("PostgreSQL on port {port} did not accept connections within {waited:?}")]
    NotReady { port: u16, waited: Duration },
    #[error(
        "PostgreSQL on port {port} did not accept connections within {waited:?}; the end of its log:\n{log}"
    )]
    NotReadyWithLog {
        port: u16,
        waited: Duration,
        log: String,
    },
    #[error("PostgreSQL exited while starting ({status}); the end of its log:\n{log}")]
    Exited { status: ExitStatus, log: String },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// `Ok` when the program succeeded, else [`Error::Failed`] with the end of its output.
pub(crate) fn check_output(what: &str, output: &Output) -> Result<(), Error> {
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(Error::Failed {
        what: what.to_owned(),
        status: output.status,
        output: tail(&text, TAIL_LINES),
    })
}

/// The last `lines` non-empty lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    kept[kept.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tail_keeps_the_last_non_empty_lines() {
        assert_eq!(super::tail("a\n\nb\nc\n\n", 2), "b\nc");
        assert_eq!(super::tail("", 3), "");
    }
}
