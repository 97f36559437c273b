//! A throwaway server for tests: its own cluster in a temporary directory, on a free
//! loopback port, stopped and deleted when dropped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::error::{TAIL_LINES, tail};
use crate::run_as::RunAs;
use crate::server::request_fast_shutdown;
use crate::{DatabaseCreated, Durability, Error, Installation};

const SUPERUSER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Starts tried when another program takes the chosen port first.
const PORT_ATTEMPTS: usize = 3;

/// A PostgreSQL server that lives as long as this value.
#[derive(Debug)]
pub struct TempServer {
    installation: Installation,
    child: Child,
    port: u16,
    password: String,
    log: PathBuf,
    // Dropped last: the server is stopped before its directory goes.
    dir: tempfile::TempDir,
}

impl TempServer {
    /// Finds PostgreSQL, creates a cluster and starts it (without fsync), waiting until it
    /// accepts connections. [`Error::NotInstalled`] when there is no PostgreSQL.
    pub fn start() -> Result<Self, Error> {
        let installation = Installation::find()?;
        let run_as = RunAs::for_this_process()?;
        let dir = tempfile::Builder::new()
            .prefix("local-postgres-")
            .tempdir()
            .map_err(Error::io("cannot create a temporary directory"))?;
        // The server's user must reach its data directory inside this one.
        run_as.private_dir(dir.path())?;
        let password = random_password()?;
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, format!("{password}\n"))
            .map_err(Error::io("cannot write the password file"))?;
        let data = dir.path().join("data");
        installation.init(&data, SUPERUSER, &password_file)?;

        let log = dir.path().join("server.log");
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match start_server(&installation, dir.path(), &data, port, &log) {
                Ok(child) => {
                    return Ok(Self {
                        installation,
                        child,
                        port,
                        password,
                        log,
                        dir,
                    });
                }
                // Another program may have taken the port in between: try another.
                Err(error @ Error::Exited { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or(Error::NotReady {
            port: 0,
            waited: Duration::ZERO,
        }))
    }

    /// [`TempServer::start`] for tests: `Ok(None)` when PostgreSQL is not installed and the
    /// environment variable `CI` is unset (the caller skips, and this prints why on standard
    /// error); on CI a missing PostgreSQL is an error, so that a test can never pass there
    /// without running.
    pub fn start_or_skip() -> Result<Option<Self>, Error> {
        if Installation::find_or_skip()?.is_none() {
            return Ok(None);
        }
        Self::start().map(Some)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn installation(&self) -> &Installation {
        &self.installation
    }

    /// The directory holding the cluster (`data/`), the socket and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates database `name` (nothing happens if it exists).
    pub fn create_database(&self, name: &str) -> Result<DatabaseCreated, Error> {
        self.installation
            .create_database(self.port, SUPERUSER, &self.password, name)
    }

    /// A `postgres://` URL of database `database`, with the superuser's credentials.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        let asked = request_fast_shutdown(self.child.id()).is_ok();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while asked && Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(
    installation: &Installation,
    dir: &Path,
    data: &Path,
    port: u16,
    log: &Path,
) -> Result<Child, Error> {
    let log_file = std::fs::File::create(log).map_err(Error::io("cannot create the server log"))?;
    let stderr = log_file
        .try_clone()
        .map_err(Error::io("cannot open the server log"))?;
    let mut child = installation
        .server_command(data, port, &dir.join("socket"), Durability::Throwaway)?
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|source| Error::Spawn {
            program: installation.program("postgres"),
            source,
        })?;
    let mut exited = None;
    let ready = installation.wait_ready_while(port, START_TIMEOUT, || match child.try_wait() {
        Ok(Some(status)) => {
            exited = Some(status);
            Err(Error::Exited {
                status,
                log: log_tail(log),
            })
        }
        Ok(None) => Ok(()),
        Err(source) => Err(Error::Io {
            what: "cannot check on the PostgreSQL process".into(),
            source,
        }),
    });
    match ready {
        Ok(()) => Ok(child),
        Err(error) => {
            if exited.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            Err(match error {
                Error::NotReady { port, waited } => Error::NotReadyWithLog {
                    port,
                    waited,
                    log: log_tail(log),
                },
                other => other,
            })
        }
    }
}

fn log_tail(log: &Path) -> String {
    std::fs::read_to_string(log)
        .map(|text| tail(&text, TAIL_LINES))
        .unwrap_or_else(|error| format!("(cannot read {}: {error})", log.display()))
}

/// A port nobody listens on now (the kernel's choice for port 0).
fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(Error::io("cannot find a free port"))
}

/// 128 random bits, hex-encoded (nothing in a URL to escape).
fn random_password() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(Error::io("cannot read /dev/urandom"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}
