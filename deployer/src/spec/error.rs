//! Spec errors: each names the file, line and column and says what was expected, rendered with
//! a source snippet like cargo's diagnostics.

use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceOffset, SourceSpan};

use super::locate::Position;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SpecError {
    #[error("cannot read spec {}: {source}", path.display())]
    #[diagnostic(help("pass the spec with -f PATH"))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid spec ({} problem{})", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        #[related]
        problems: Vec<Problem>,
    },
}

impl SpecError {
    /// One line per problem, `file:line:column: message`, for logs and tests.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Read { .. } => vec![self.to_string()],
            Self::Invalid { problems, .. } => problems.iter().map(ToString::to_string).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("here")]
    span: SourceSpan,
    #[help]
    pub help: Option<String>,
}

impl Problem {
    pub fn new(
        file: &Path,
        source: &str,
        position: Option<Position>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let position = position.unwrap_or(Position { line: 1, column: 1 });
        let offset = SourceOffset::from_location(source, position.line, position.column);
        let name = file.display().to_string();
        Self {
            file: name.clone(),
            line: position.line,
            column: position.column,
            message: message.into(),
            source_code: NamedSource::new(name, source.to_owned()),
            span: SourceSpan::new(offset, 1),
            help,
        }
    }
}
