//! The server process itself, in the foreground, for a supervisor to own.

use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::run_as::RunAs;
use crate::{Error, Installation};

/// What the server may trade for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PostgreSQL's defaults: a committed transaction survives a crash of the machine.
    Durable,
    /// No fsync, no full-page writes, commits acknowledged before they are written: for
    /// throwaway test servers only (a crash can corrupt the cluster).
    Throwaway,
}

impl Installation {
    /// `postgres` serving `data_dir` (made by [`Installation::init`]) on `127.0.0.1:port`
    /// only, with its Unix socket in `socket_dir` (created if missing), logging to standard
    /// error. It runs in the foreground until signalled: SIGINT is a fast shutdown (clients
    /// are disconnected; see [`request_fast_shutdown`]), SIGTERM waits for every client to
    /// leave first.
    ///
    /// Run as root, the command runs as the `postgres` user and `socket_dir` is given to it.
    /// Standard input is closed; the caller chooses where standard output and error go.
    pub fn server_command(
        &self,
        data_dir: &Path,
        port: u16,
        socket_dir: &Path,
        durability: Durability,
    ) -> Result<Command, Error> {
        let run_as = RunAs::for_this_process()?;
        run_as.private_dir(socket_dir)?;
        let mut command = Command::new(self.program("postgres"));
        command
            .arg("-D")
            .arg(data_dir)
            .arg("-p")
            .arg(port.to_string())
            .args(["-h", "127.0.0.1"])
            .arg("-k")
            .arg(socket_dir)
            .current_dir(data_dir)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if durability == Durability::Throwaway {
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        run_as.apply(&mut command);
        Ok(command)
    }
}

/// Asks the server whose postmaster is `pid` for a fast shutdown (SIGINT): clients are
/// disconnected, the cluster is checkpointed and the process exits, usually within a second.
pub fn request_fast_shutdown(pid: u32) -> Result<(), Error> {
    let pid = i32::try_from(pid).map_err(|_| Error::Io {
        what: format!("{pid} is not a process id"),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    kill(Pid::from_raw(pid), Signal::SIGINT).map_err(|errno| Error::Io {
        what: format!("cannot signal PostgreSQL (pid {pid})"),
        source: errno.into(),
    })
}
