//! The admin API's key: given in a file or in `PAINTSHOP_ADMIN_KEY` (a secret a deployment
//! injects), hashed at startup and compared in constant time. The key itself is never kept,
//! logged or shown.

use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use crate::api_keys::hash_key;

/// Shortest admin key accepted: a guessable key would open user management to anyone.
pub const MIN_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum AdminKeyError {
    #[error("cannot read the admin key file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the admin key is {len} characters; it needs at least {MIN_LEN} (make one with `openssl rand -hex 32`)"
    )]
    TooShort { len: usize },
    #[error("give the admin key once: --admin-key-file or PAINTSHOP_ADMIN_KEY, not both")]
    Both,
}

/// The SHA-256 of the admin key.
#[derive(Clone)]
pub struct AdminKey {
    hash: String,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AdminKey(..)")
    }
}

impl AdminKey {
    /// `key` without surrounding whitespace (a trailing newline in a file is not part of it).
    pub fn new(key: &str) -> Result<Self, AdminKeyError> {
        let key = key.trim();
        let len = key.chars().count();
        if len < MIN_LEN {
            return Err(AdminKeyError::TooShort { len });
        }
        Ok(Self {
            hash: hash_key(key),
        })
    }

    /// The key from `file` or `value`, whichever is given; `None` when neither is.
    pub fn from_sources(
        file: Option<&Path>,
        value: Option<&str>,
    ) -> Result<Option<Self>, AdminKeyError> {
        match (file, value) {
            (Some(_), Some(_)) => Err(AdminKeyError::Both),
            (Some(path), None) => {
                let key = std::fs::read_to_string(path).map_err(|source| AdminKeyError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Self::new(&key).map(Some)
            }
            (None, Some(key)) => Self::new(key).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Whether `presented` is the key, in time that does not depend on how much of it matches.
    pub fn matches(&self, presented: &str) -> bool {
        hash_key(presented)
            .as_bytes()
            .ct_eq(self.hash.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_key_matches_itself_only_and_is_not_in_its_debug_output() {
        let key = AdminKey::new(&format!("{KEY}\n")).expect("valid");
        assert!(key.matches(KEY));
        assert!(!key.matches(&KEY[1..]));
        assert!(!key.matches(""));
        assert!(!format!("{key:?}").contains(KEY));
    }

    #[test]
    fn short_keys_and_two_sources_are_refused() {
        assert!(matches!(
            AdminKey::new("short"),
            Err(AdminKeyError::TooShort { len: 5 })
        ));
        assert!(matches!(
            AdminKey::from_sources(Some(Path::new("/nonexistent")), Some(KEY)),
            Err(AdminKeyError::Both)
        ));
        assert!(
            AdminKey::from_sources(None, None)
                .expect("no key")
                .is_none()
        );
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("admin-key");
        std::fs::write(&file, format!("{KEY}\n")).expect("write");
        let key = AdminKey::from_sources(Some(&file), None)
            .expect("read")
            .expect("a key");
        assert!(key.matches(KEY));
    }
}
