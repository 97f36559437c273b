//! Maps a YAML path (`services.portal.scaling.min`) to where it is written in the file, so
//! checks that run after deserialization can still point at a line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column of a key or value in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct PositionIndex {
    keys: HashMap<String, Position>,
    values: HashMap<String, Position>,
}

impl PositionIndex {
    /// Best effort: a document the YAML parser rejects gives an empty index (serde reports
    /// the syntax error itself, with its own position).
    pub fn build(source: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        if parser.load(&mut builder, false).is_err() {
            return Self::default();
        }
        builder.index
    }

    /// Where the value at `path` starts, else where its key is, else the nearest ancestor's key.
    pub fn value(&self, path: &str) -> Option<Position> {
        self.values.get(path).copied().or_else(|| self.key(path))
    }

    /// Where the key of `path` is written, else the nearest ancestor's key.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| {
            path.rsplit_once('.')
                .and_then(|(parent, _)| self.key(parent))
        })
    }
}

enum Frame {
    Mapping {
        path: String,
        pending_key: Option<String>,
    },
    Sequence {
        path: String,
        next_index: usize,
    },
}

#[derive(Default)]
struct Builder {
    index: PositionIndex,
    stack: Vec<Frame>,
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

impl Builder {
    /// Called for every node: either a mapping key, or a value whose path it returns.
    fn node(&mut self, key_text: Option<&str>, mark: Marker) -> Option<String> {
        let position = Position {
            line: mark.line(),
            // yaml-rust2 counts columns from 0.
            column: mark.col() + 1,
        };
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Mapping { path, pending_key }) => match pending_key.take() {
                None => {
                    let key = key_text.unwrap_or_default().to_owned();
                    self.index.keys.insert(join(path, &key), position);
                    *pending_key = Some(key);
                    None
                }
                Some(key) => {
                    let full = join(path, &key);
                    self.index.values.insert(full.clone(), position);
                    Some(full)
                }
            },
            Some(Frame::Sequence { path, next_index }) => {
                let full = join(path, &next_index.to_string());
                *next_index += 1;
                self.index.values.insert(full.clone(), position);
                Some(full)
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, ..) => {
                self.node(Some(&text), mark);
            }
            Event::Alias(_) => {
                self.node(None, mark);
            }
            // A collection's start mark is where the parser noticed it, not where it is
            // written; lookups of collections use their key's position instead.
            Event::MappingStart(..) => {
                if let Some(path) = self.node(None, mark) {
                    self.index.values.remove(&path);
                    self.stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                    });
                }
            }
            Event::SequenceStart(..) => {
                if let Some(path) = self.node(None, mark) {
                    self.index.values.remove(&path);
                    self.stack.push(Frame::Sequence {
                        path,
                        next_index: 0,
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_values() {
        let source =
            "app: demo\nservices:\n  portal:\n    port: 5000\n    local:\n      command: [a, b]\n";
        let index = PositionIndex::build(source);
        assert_eq!(index.value("app"), Some(Position { line: 1, column: 6 }));
        assert_eq!(
            index.key("services.portal"),
            Some(Position { line: 3, column: 3 })
        );
        assert_eq!(
            index.value("services.portal.port"),
            Some(Position {
                line: 4,
                column: 11
            })
        );
        assert_eq!(
            index.value("services.portal.local.command.1"),
            Some(Position {
                line: 6,
                column: 20
            })
        );
        // Missing paths fall back to the closest ancestor that exists.
        assert_eq!(
            index.value("services.portal.scaling.min"),
            Some(Position { line: 3, column: 3 })
        );
    }
}
