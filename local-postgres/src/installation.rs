//! Where PostgreSQL's programs are.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where distributions (Debian, Ubuntu) put each major version's programs.
const DISTRIBUTION_ROOT: &str = "/usr/lib/postgresql";

/// No usable PostgreSQL on this machine. Its message is one line that says how to get one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "PostgreSQL is not installed (no initdb/postgres on PATH or in {DISTRIBUTION_ROOT}/*/bin); install it with `apt-get install postgresql`"
)]
pub struct NotInstalled;

/// One PostgreSQL install: the directory holding `initdb`, `postgres`, `pg_isready` and
/// `createdb` of the same version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    bin_dir: PathBuf,
}

impl Installation {
    /// The install whose `initdb` comes first on `PATH`, else the highest version under
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find() -> Result<Self, NotInstalled> {
        Self::find_in(
            std::env::var_os("PATH").as_deref(),
            Path::new(DISTRIBUTION_ROOT),
        )
    }

    /// [`Installation::find`] for tests: `Ok(None)` when PostgreSQL is not installed and the
    /// environment variable `CI` is unset (the caller skips; this prints why on standard
    /// error); on CI a missing PostgreSQL is an error, so that a test never passes there
    /// without running.
    pub fn find_or_skip() -> Result<Option<Self>, NotInstalled> {
        match Self::find() {
            Ok(installation) => Ok(Some(installation)),
            Err(not_installed) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping the PostgreSQL variant: {not_installed}");
                Ok(None)
            }
            Err(not_installed) => Err(not_installed),
        }
    }

    /// [`Installation::find`] with the search path and distribution root given.
    pub fn find_in(path: Option<&OsStr>, distribution_root: &Path) -> Result<Self, NotInstalled> {
        let on_path = path
            .into_iter()
            .flat_map(std::env::split_paths)
            .find_map(|dir| Self::at(&dir));
        on_path
            .or_else(|| Self::highest_under(distribution_root))
            .ok_or(NotInstalled)
    }

    /// The install in `bin_dir`, if both `initdb` and `postgres` are there. A symlinked
    /// `initdb` (Debian's `/usr/bin` wrappers, a `/usr/local/bin` link) leads to its real
    /// directory, where the rest of that version's programs are.
    pub fn at(bin_dir: &Path) -> Option<Self> {
        let initdb = std::fs::canonicalize(bin_dir.join("initdb")).ok()?;
        let real_dir = initdb.parent()?;
        (is_executable(&initdb) && is_executable(&real_dir.join("postgres"))).then(|| Self {
            bin_dir: real_dir.to_path_buf(),
        })
    }

    fn highest_under(root: &Path) -> Option<Self> {
        let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                let version = name
                    .to_str()?
                    .split('.')
                    .map(|part| part.parse::<u32>().ok())
                    .collect::<Option<Vec<_>>>()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        versions
            .into_iter()
            .rev()
            .find_map(|(_, bin_dir)| Self::at(&bin_dir))
    }

    /// The directory holding this version's programs.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The path of one of this version's programs (`initdb`, `postgres`, `pg_isready`, ...).
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// What `postgres --version` says, e.g. `postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)`.
    pub fn version(&self) -> Result<String, crate::Error> {
        let program = self.program("postgres");
        let output = std::process::Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|source| crate::Error::Spawn {
                program: program.clone(),
                source,
            })?;
        crate::error::check_output("postgres --version", &output)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_bin(dir: &Path) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for name in ["initdb", "postgres"] {
            let path = dir.join(name);
            std::fs::write(&path, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    #[test]
    fn the_highest_distribution_version_wins_when_path_has_none() {
        let root = tempfile::tempdir().expect("dir");
        for version in ["9.6", "13", "15"] {
            fake_bin(&root.path().join(version).join("bin"));
        }
        std::fs::create_dir_all(root.path().join("16/bin")).expect("incomplete 16");
        let empty = tempfile::tempdir().expect("dir");
        let found =
            Installation::find_in(Some(empty.path().as_os_str()), root.path()).expect("found");
        let expected = std::fs::canonicalize(root.path().join("15/bin")).expect("canonical");
        assert_eq!(found.bin_dir(), expected);
    }

    #[test]
    fn path_comes_first_and_symlinks_lead_to_the_real_directory() {
        let root = tempfile::tempdir().expect("dir");
        fake_bin(&root.path().join("15/bin"));
        let real = tempfile::tempdir().expect("dir");
        fake_bin(&real.path().join("bin"));
        let links = tempfile::tempdir().expect("dir");
        std::os::unix::fs::symlink(real.path().join("bin/initdb"), links.path().join("initdb"))
            .expect("symlink");
        let path = std::env::join_paths([links.path()]).expect("path");
        let found = Installation::find_in(Some(&path), root.path()).expect("found");
        let expected = std::fs::canonicalize(real.path().join("bin")).expect("canonical");
        assert_eq!(found.bin_dir(), expected);
    }

    #[test]
    fn nothing_installed_is_one_line_saying_how_to_install() {
        let empty = tempfile::tempdir().expect("dir");
        let error = Installation::find_in(None, &empty.path().join("missing"))
            .expect_err("nothing to find");
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("apt-get install postgresql"), "{message}");
    }
}
