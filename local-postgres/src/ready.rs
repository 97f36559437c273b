//! Whether a server accepts connections: `pg_isready`, which tells a server that is still
//! starting (it answers, but refuses sessions) from one that is ready.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Installation};

const POLL: Duration = Duration::from_millis(50);

impl Installation {
    /// Whether the server on `127.0.0.1:port` accepts sessions now (waits at most ~1 s).
    pub fn is_ready(&self, port: u16) -> Result<bool, Error> {
        let program = self.program("pg_isready");
        let status = Command::new(&program)
            .args(["-h", "127.0.0.1", "-q", "-t", "1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| Error::Spawn { program, source })?;
        // 0: accepting; 1: rejecting (starting up or shutting down); 2: no answer; 3: bad
        // arguments, which our fixed ones are not.
        Ok(status.success())
    }

    /// Polls until the server on `127.0.0.1:port` accepts sessions, or `timeout` has passed
    /// ([`Error::NotReady`]).
    pub fn wait_ready(&self, port: u16, timeout: Duration) -> Result<(), Error> {
        self.wait_ready_while(port, timeout, || Ok(()))
    }

    /// [`Installation::wait_ready`] that also gives up as soon as `alive` fails (the server
    /// process exited).
    pub(crate) fn wait_ready_while(
        &self,
        port: u16,
        timeout: Duration,
        mut alive: impl FnMut() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            alive()?;
            if self.is_ready(port)? {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::NotReady {
                    port,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}
