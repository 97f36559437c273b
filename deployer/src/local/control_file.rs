//! `control.json` in the state directory: how `dashctl status/deploy/rollback/down` find a
//! running `dashctl up`, and which children to clean up if that `up` died without stopping them.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlFile {
    pub pid: u32,
    pub url: String,
    /// Bearer token for the control API: only users who can read this file can drive `up`.
    pub token: String,
    pub app: String,
    pub environment: String,
    pub spec: PathBuf,
    /// Pids of running instances (refreshed while `up` runs).
    #[serde(default)]
    pub children: Vec<u32>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.json")
}

impl ControlFile {
    pub fn read(state_dir: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path(state_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Written to a temporary file and renamed, so readers never see half a file; mode 0600.
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let temporary = state_dir.join("control.json.tmp");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(temporary, path(state_dir))
    }
}

/// Whether a process with this pid exists and has not exited (a zombie waiting for its
/// parent to reap it counts as gone).
pub fn is_alive(pid: u32) -> bool {
    let exists = i32::try_from(pid)
        .is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok());
    exists && !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses and may contain spaces.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

pub fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}
