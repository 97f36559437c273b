//! `control.json` in the state directory: how `dashctl status/deploy/rollback/down` find a
//! running `dashctl up`, and which children to clean up if that `up` died without stopping them.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::process::ProcessIdentity;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlFile {
    /// Pid of `dashctl up`; trusted only together with `start_ticks` (see `running_up`).
    pub pid: u32,
    /// Start time of `pid`. Files written before it was recorded lack it: their pid cannot be
    /// told from a later process that reused it, so it is never trusted.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    pub url: String,
    /// Bearer token for the control API: only users who can read this file can drive `up`.
    pub token: String,
    pub app: String,
    pub environment: String,
    pub spec: PathBuf,
    /// Running and draining instances, each the leader of its own process group (refreshed
    /// while `up` runs).
    #[serde(default)]
    pub children: Vec<RecordedChild>,
}

/// One entry of `children`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordedChild {
    Identified(ProcessIdentity),
    /// A bare pid, as older versions wrote: read so the file still parses, never signalled.
    Unverified(u32),
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.json")
}

impl ControlFile {
    /// The `dashctl up` that wrote this file, if that very process still runs.
    pub fn running_up(&self) -> Option<ProcessIdentity> {
        let up = ProcessIdentity {
            pid: self.pid,
            start_ticks: self.start_ticks?,
        };
        up.is_same_process().then_some(up)
    }

    /// The recorded instances whose identity is known (whether they still run or not).
    pub fn identified_children(&self) -> impl Iterator<Item = ProcessIdentity> + '_ {
        self.children.iter().filter_map(|child| match child {
            RecordedChild::Identified(identity) => Some(*identity),
            RecordedChild::Unverified(_) => None,
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_from_an_older_version_parses_and_trusts_nothing() {
        let old = br#"{"pid": 1, "url": "http://127.0.0.1:1", "token": "t", "app": "a",
            "environment": "e", "spec": "/s.yaml", "children": [2, 3]}"#;
        let file: ControlFile = serde_json::from_slice(old).expect("parses");
        assert_eq!(file.start_ticks, None);
        assert_eq!(file.running_up(), None, "no start time: never trusted");
        assert_eq!(file.identified_children().count(), 0);
    }

    #[test]
    fn children_round_trip_with_their_start_time() {
        let child = ProcessIdentity {
            pid: 42,
            start_ticks: 7,
        };
        let file = ControlFile {
            pid: 1,
            start_ticks: Some(9),
            url: String::new(),
            token: String::new(),
            app: String::new(),
            environment: String::new(),
            spec: PathBuf::new(),
            children: vec![RecordedChild::Identified(child)],
        };
        let bytes = serde_json::to_vec(&file).expect("serializes");
        let back: ControlFile = serde_json::from_slice(&bytes).expect("parses");
        assert_eq!(back.identified_children().collect::<Vec<_>>(), [child]);
        assert_eq!(back.start_ticks, Some(9));
    }
}
