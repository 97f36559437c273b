//! The YAML spec: types, loading with positioned errors, and checks. An invalid spec never
//! reaches a platform: every command loads through [`load`] first.

mod error;
mod locate;
mod model;
pub mod template;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{Problem, SpecError};
pub use model::*;
pub use validate::{DATABASE_VARIABLES, MAX_AWS_NAME, longest_resource_name};

use locate::{Position, PositionIndex};

/// A spec that parsed and passed every check, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub path: PathBuf,
}

impl LoadedSpec {
    /// The directory local commands run in: `local.workdir` relative to the spec file.
    pub fn workdir(&self) -> PathBuf {
        let base = self
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        base.join(&self.spec.local.workdir)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.workdir().join(&self.spec.local.state_dir)
    }

    /// The workdir as an absolute path without `..`, for messages and children.
    pub fn workdir_absolute(&self) -> PathBuf {
        let dir = self.workdir();
        std::fs::canonicalize(&dir)
            .or_else(|_| std::path::absolute(&dir))
            .unwrap_or(dir)
    }

    /// The state directory as an absolute path, for children that run elsewhere.
    pub fn state_dir_absolute(&self) -> PathBuf {
        self.workdir_absolute().join(&self.spec.local.state_dir)
    }
}

pub fn load(path: &Path) -> Result<LoadedSpec, SpecError> {
    let source = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &source).map(|mut spec| {
        spec.dir = path.parent().map(Path::to_owned).unwrap_or_default();
        LoadedSpec {
            spec,
            path: path.to_owned(),
        }
    })
}

/// Parses and checks `source`; `path` is only used in messages.
pub fn parse(path: &Path, source: &str) -> Result<Spec, SpecError> {
    let invalid = |problems| SpecError::Invalid {
        path: path.to_owned(),
        problems,
    };
    let spec: Spec = match serde_yaml_ng::from_str(source) {
        Ok(spec) => spec,
        Err(error) => {
            let position = error.location().map(|location| Position {
                line: location.line(),
                column: location.column(),
            });
            return Err(invalid(vec![Problem::new(
                path,
                source,
                position,
                serde_message(&error),
                None,
            )]));
        }
    };
    let findings = validate::check(&spec);
    if findings.is_empty() {
        return Ok(spec);
    }
    let index = PositionIndex::build(source);
    let mut problems: Vec<Problem> = findings
        .into_iter()
        .map(|finding| {
            let position = if finding.at_key {
                index.key(&finding.path)
            } else {
                index.value(&finding.path)
            };
            Problem::new(path, source, position, finding.message, finding.help)
        })
        .collect();
    problems.sort_by_key(|problem| (problem.line, problem.column));
    Err(invalid(problems))
}

/// serde_yaml's message without its trailing " at line L column C" (we print our own).
fn serde_message(error: &serde_yaml_ng::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests;
