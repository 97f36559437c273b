//! PostgreSQL for `dashctl up`: one server per database in the spec, initialised once into
//! `STATE_DIR/postgres/NAME` (its data outlives `up`, as an RDS instance outlives a deploy),
//! listening on loopback only, restarted if it dies, and stopped after every instance.
//!
//! Services attached to it get the same libpq variables as on AWS; the password is generated
//! on first use and kept in a mode-0600 file beside the data, never in the spec or a log.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use local_postgres::{Durability, Installation};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::port;
use super::process::ProcessIdentity;
use crate::events::{Event, Events};
use crate::spec::Database;

/// The superuser `initdb` creates; services connect as it (on AWS: RDS's master user).
const SUPERUSER: &str = "dashctl";
/// First start after initdb, crash recovery included, on a slow disk.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// A fast shutdown rolls back open transactions and checkpoints: seconds, not more.
const STOP_GRACE: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

pub struct LocalDatabase {
    key: String,
    database_name: String,
    port: u16,
    password: String,
    installation: Installation,
    process: Mutex<Option<ProcessIdentity>>,
    restarts: std::sync::atomic::AtomicU32,
    stop: CancellationToken,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// One line of `dashctl status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DatabaseStatus {
    pub name: String,
    /// Where to connect, without the password (it is in `password_file`).
    pub url: String,
    pub password_file: PathBuf,
    pub pid: Option<u32>,
    pub restarts: u32,
}

fn server_dir(state_dir: &Path, key: &str) -> PathBuf {
    state_dir.join("postgres").join(key)
}

fn password_file(state_dir: &Path, key: &str) -> PathBuf {
    server_dir(state_dir, key).join("password")
}

/// The password from an earlier run, or a new random one written with mode 0600.
fn password(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && let Some(line) = existing.lines().next().filter(|line| !line.is_empty())
    {
        return Ok(line.to_owned());
    }
    let password = hex::encode(rand::random::<[u8; 24]>());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{password}").with_context(|| format!("writing {}", path.display()))?;
    Ok(password)
}

impl LocalDatabase {
    /// Initialises the server on first use, starts it, waits until it accepts connections and
    /// creates the database in it; each long step is reported through `events`.
    pub async fn start(
        installation: Installation,
        key: &str,
        definition: &Database,
        state_dir: &Path,
        logs_dir: &Path,
        events: &Events,
    ) -> anyhow::Result<Arc<Self>> {
        let started = Instant::now();
        let dir = server_dir(state_dir, key);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let password_path = password_file(state_dir, key);
        let password = password(&password_path)?;
        let data_dir = dir.join("data");
        if !local_postgres::is_initialized(&data_dir) {
            events.emit(Event::InitialisingDatabase {
                database: key.to_owned(),
                data_dir: data_dir.clone(),
            });
            let (installation, data, pw) = (
                installation.clone(),
                data_dir.clone(),
                password_path.clone(),
            );
            tokio::task::spawn_blocking(move || installation.init(&data, SUPERUSER, &pw))
                .await
                .context("initdb task")?
                .with_context(|| format!("database {key}: initdb failed"))?;
        }
        let database = Arc::new(Self {
            key: key.to_owned(),
            database_name: definition.database_name(key).to_owned(),
            port: port::pick().context("picking a port for PostgreSQL")?,
            password,
            installation,
            process: Mutex::new(None),
            restarts: std::sync::atomic::AtomicU32::new(0),
            stop: CancellationToken::new(),
            supervisor: Mutex::new(None),
        });
        let log = logs_dir.join(format!("postgres-{key}.log"));
        let handle = tokio::spawn(supervise(
            database.clone(),
            data_dir,
            dir.join("socket"),
            log.clone(),
        ));
        *database
            .supervisor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handle);

        let (installation, port) = (database.installation.clone(), database.port);
        database
            .or_stop(
                "readiness",
                move || installation.wait_ready(port, READY_TIMEOUT),
                || {
                    format!(
                        "database {key}: PostgreSQL did not start; see {}",
                        log.display()
                    )
                },
            )
            .await?;
        let (installation, port, password, name) = (
            database.installation.clone(),
            database.port,
            database.password.clone(),
            database.database_name.clone(),
        );
        database
            .or_stop(
                "createdb",
                move || installation.create_database(port, SUPERUSER, &password, &name),
                || format!("database {key}: creating {}", database.database_name),
            )
            .await?;
        events.emit(Event::DatabaseReady {
            database: key.to_owned(),
            port: database.port,
            took: started.elapsed(),
        });
        Ok(database)
    }

    /// One blocking step of starting the server (`task` names it if the task itself fails); if
    /// the step fails the server is stopped, so a failed start leaves nothing running.
    async fn or_stop<T, E>(
        &self,
        task: &str,
        step: impl FnOnce() -> Result<T, E> + Send + 'static,
        what_failed: impl FnOnce() -> String,
    ) -> anyhow::Result<T>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let result = tokio::task::spawn_blocking(step)
            .await
            .with_context(|| format!("{task} task"))?;
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                self.stop().await;
                Err(anyhow::Error::new(error).context(what_failed()))
            }
        }
    }

    /// What a service attached to this database gets in its environment.
    pub fn env(&self) -> BTreeMap<String, String> {
        [
            ("PGHOST", "127.0.0.1".to_owned()),
            ("PGPORT", self.port.to_string()),
            ("PGDATABASE", self.database_name.clone()),
            ("PGUSER", SUPERUSER.to_owned()),
            ("PGPASSWORD", self.password.clone()),
            // Loopback only: no TLS, as with any local server.
            ("PGSSLMODE", "disable".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    pub fn process(&self) -> Option<ProcessIdentity> {
        *self
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self, state_dir: &Path) -> DatabaseStatus {
        DatabaseStatus {
            name: self.key.clone(),
            url: format!(
                "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
                self.port, self.database_name
            ),
            password_file: password_file(state_dir, &self.key),
            pid: self.process().map(|process| process.pid),
            restarts: self.restarts.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Fast shutdown (open transactions roll back, data is checkpointed), then waits for it.
    pub async fn stop(&self) {
        self.stop.cancel();
        let handle = self
            .supervisor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }

    fn set_process(&self, process: Option<ProcessIdentity>) {
        *self
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = process;
    }
}

/// A PostgreSQL server per database in the spec, ready before any instance starts. None
/// installed: one line saying how to install it (a spec without databases needs none). If
/// one fails to start, those already started are stopped.
pub async fn start_all(
    definitions: &BTreeMap<String, Database>,
    bin_dir: Option<&Path>,
    state_dir: &Path,
    logs_dir: &Path,
    events: &Events,
) -> anyhow::Result<BTreeMap<String, Arc<LocalDatabase>>> {
    let mut started = BTreeMap::new();
    if definitions.is_empty() {
        return Ok(started);
    }
    let databases = definitions.keys().cloned().collect::<Vec<_>>().join(", ");
    let installation = match bin_dir {
        Some(dir) => Installation::at(dir).ok_or_else(|| {
            anyhow::anyhow!(
                "no PostgreSQL in {} (--postgres-bin-dir: it needs initdb and postgres); the spec's databases ({databases}) run on a local PostgreSQL server; install it with `apt-get install postgresql`",
                dir.display()
            )
        })?,
        None => Installation::find().map_err(|missing| {
            anyhow::anyhow!(
                "{missing}; the spec's databases ({databases}) run on a local PostgreSQL server"
            )
        })?,
    };
    for (key, definition) in definitions {
        match LocalDatabase::start(
            installation.clone(),
            key,
            definition,
            state_dir,
            logs_dir,
            events,
        )
        .await
        {
            Ok(database) => {
                started.insert(key.clone(), database);
            }
            Err(error) => {
                futures_util::future::join_all(started.values().map(|database| database.stop()))
                    .await;
                return Err(error);
            }
        }
    }
    Ok(started)
}

/// Runs the server until `stop`, restarting it (with a growing pause) when it dies.
async fn supervise(
    database: Arc<LocalDatabase>,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let child = spawn(&database, &data_dir, &socket_dir, &log);
        let mut child = match child {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(database = %database.key, "cannot start PostgreSQL: {error:#}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = database.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let identity = child.id().and_then(ProcessIdentity::current);
        database.set_process(identity);
        tokio::select! {
            exit = child.wait() => {
                database.set_process(None);
                tracing::warn!(database = %database.key, "PostgreSQL exited ({exit:?}); restarting");
                database.restarts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = database.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            () = database.stop.cancelled() => {
                let pid = child.id();
                if let Some(pid) = pid {
                    let _ = local_postgres::request_fast_shutdown(pid);
                }
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    tracing::warn!(database = %database.key, "PostgreSQL did not stop in time; killing it");
                    let _ = child.kill().await;
                }
                // Backends left behind by a killed postmaster would block the next start.
                if let Some(pgid) = pid.and_then(|pid| i32::try_from(pid).ok()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pgid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                database.set_process(None);
                return;
            }
        }
    }
}

fn spawn(
    database: &LocalDatabase,
    data_dir: &Path,
    socket_dir: &Path,
    log: &Path,
) -> anyhow::Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let command = database.installation.server_command(
        data_dir,
        database.port,
        socket_dir,
        Durability::Durable,
    )?;
    let mut command = tokio::process::Command::from(command);
    command
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        // Its own process group: Ctrl-C reaches dashctl, which stops the server after the
        // instances that use it.
        .process_group(0)
        .kill_on_drop(true);
    Ok(command.spawn()?)
}
