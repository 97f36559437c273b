//! Who PostgreSQL's programs run as: this process's user, or `postgres` when this is root
//! (initdb and postgres refuse to run as root).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Uid, User};

use crate::Error;

const SYSTEM_USER: &str = "postgres";

/// The user the server runs as, when it is not this process's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunAs(Option<(u32, u32)>);

impl RunAs {
    pub(crate) fn for_this_process() -> Result<Self, Error> {
        if !Uid::effective().is_root() {
            return Ok(Self(None));
        }
        let user = User::from_name(SYSTEM_USER)
            .map_err(Error::UserLookup)?
            .ok_or(Error::NoPostgresUser)?;
        Ok(Self(Some((user.uid.as_raw(), user.gid.as_raw()))))
    }

    /// Makes `command` run as that user.
    pub(crate) fn apply(&self, command: &mut Command) {
        if let Some((uid, gid)) = self.0 {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives `path` to that user, so the server can write there.
    pub(crate) fn give(&self, path: &Path) -> Result<(), Error> {
        if let Some((uid, gid)) = self.0 {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(Error::io(format!(
                "cannot give {} to the postgres user",
                path.display()
            )))?;
        }
        Ok(())
    }

    /// Creates `dir` (and its parents) for the server: owned by its user, private (0700).
    pub(crate) fn private_dir(&self, dir: &Path) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)
            .map_err(Error::io(format!("cannot create {}", dir.display())))?;
        self.give(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io(format!("cannot make {} private", dir.display())))
    }
}
