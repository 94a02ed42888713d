//! Where each key of `bundle.yaml` is written, so that errors and guards can point an editor at
//! the key they name, and the first key a mapping holds twice, reported at its own line.
//!
//! serde only reports positions of errors, never of values it read successfully, so the text is
//! walked a second time with an event parser that gives every node its source position.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

use super::Location;
use crate::validate::WrittenKeys;

/// Every key path of the first YAML document with the position of its key (of its item, for
/// sequence items), written as serde_path_to_error prints paths: `a.b`, `a.list[0]`.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    keys: HashMap<String, Location>,
    duplicate: Option<DuplicateKey>,
}

/// A key written twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DuplicateKey {
    /// Full path of the key.
    pub(super) key: String,
    /// The second occurrence.
    pub(super) location: Location,
    /// The first occurrence.
    pub(super) first: Location,
}

/// A mapping or sequence being read. `path` is `None` inside a node that has no key path (a
/// mapping used as a key).
enum Frame {
    Mapping {
        path: Option<String>,
        /// The path of the value that comes next; `None` when a key comes next.
        pending_value: Option<Option<String>>,
        seen: HashMap<String, Location>,
    },
    Sequence {
        path: Option<String>,
        next_index: usize,
    },
}

impl KeyIndex {
    /// Indexes `text`. A text the event parser cannot read is indexed up to the problem: the
    /// YAML error itself is reported by the deserializer.
    pub(super) fn of(text: &str) -> KeyIndex {
        let mut index = KeyIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            match event {
                Event::DocumentEnd => break,
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Scalar(value, ..) => {
                    index.node(&mut stack, Some(&value), span);
                }
                Event::Alias(_) => {
                    index.node(&mut stack, None, span);
                }
                Event::MappingStart(..) => {
                    let path = index.node(&mut stack, None, span);
                    stack.push(Frame::Mapping {
                        path,
                        pending_value: None,
                        seen: HashMap::new(),
                    });
                }
                Event::SequenceStart(..) => {
                    let path = index.node(&mut stack, None, span);
                    stack.push(Frame::Sequence {
                        path,
                        next_index: 0,
                    });
                }
                Event::Nothing
                | Event::StreamStart
                | Event::StreamEnd
                | Event::DocumentStart(_) => {}
            }
        }
        index
    }

    /// Records one node (a scalar with its text, or an alias or the start of a collection) in
    /// the innermost open collection; returns the key path of the node when it is a value.
    fn node(&mut self, stack: &mut [Frame], scalar: Option<&str>, span: Span) -> Option<String> {
        let location = Location {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        match stack.last_mut() {
            // The document's top node.
            None => Some(String::new()),
            Some(Frame::Sequence { path, next_index }) => {
                let item = path.as_ref().map(|path| format!("{path}[{next_index}]"));
                *next_index += 1;
                if let Some(item) = &item {
                    self.keys.entry(item.clone()).or_insert(location);
                }
                item
            }
            Some(Frame::Mapping {
                pending_value: pending_value @ Some(_),
                ..
            }) => pending_value.take().flatten(),
            Some(Frame::Mapping {
                path,
                pending_value,
                seen,
            }) => {
                // A key. Only a scalar key has a path; a collection used as a key has none.
                let key_path = match (scalar, path) {
                    (Some(key), Some(parent)) => {
                        let key_path = if parent.is_empty() {
                            key.to_owned()
                        } else {
                            format!("{parent}.{key}")
                        };
                        if let Some(&first) = seen.get(key) {
                            self.duplicate.get_or_insert_with(|| DuplicateKey {
                                key: key_path.clone(),
                                location,
                                first,
                            });
                        } else {
                            seen.insert(key.to_owned(), location);
                            self.keys.entry(key_path.clone()).or_insert(location);
                        }
                        Some(key_path)
                    }
                    _ => None,
                };
                *pending_value = Some(key_path);
                None
            }
        }
    }

    /// The first key written twice in one mapping, in document order.
    pub(super) fn duplicate(&self) -> Option<&DuplicateKey> {
        self.duplicate.as_ref()
    }

    /// Where `key` is written or, when it is not (a missing key, a default), where its nearest
    /// written parent is. `None` when not even the first segment is written.
    pub(super) fn locate(&self, key: &str) -> Option<Location> {
        let mut path = key;
        loop {
            if let Some(&location) = self.keys.get(path) {
                return Some(location);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }
}

/// A key counts as written when the text holds it, whatever its value (`ingress: {tls: {}}`
/// writes `ingress.tls`).
impl WrittenKeys for KeyIndex {
    fn is_written(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Option<Location> {
        Some(Location { line, column })
    }

    const TEXT: &str = "\
a: 1
b:
  c: {d: x, 'e': [p, {q: 1}]}
  f:
    - g
";

    #[test]
    fn block_and_flow_keys_are_located_at_their_first_character() {
        let index = KeyIndex::of(TEXT);
        assert_eq!(index.locate("a"), at(1, 1));
        assert_eq!(index.locate("b.c"), at(3, 3));
        assert_eq!(index.locate("b.c.d"), at(3, 7));
        assert_eq!(index.locate("b.c.e"), at(3, 13));
    }

    #[test]
    fn sequence_items_are_located_by_index() {
        let index = KeyIndex::of(TEXT);
        assert_eq!(index.locate("b.c.e[1].q"), at(3, 23));
        assert_eq!(index.locate("b.f[0]"), at(5, 7));
    }

    #[test]
    fn a_key_not_written_is_located_at_its_nearest_written_parent() {
        let index = KeyIndex::of(TEXT);
        assert_eq!(index.locate("b.c.zz.yy"), at(3, 3));
        assert_eq!(index.locate("b.f[3]"), at(4, 3));
        assert_eq!(index.locate("zz.yy"), None);
    }

    #[test]
    fn a_duplicate_key_is_reported_at_its_second_occurrence_with_the_first() {
        let index = KeyIndex::of("a:\n  b: 1\n  c: 2\n  b: 3\n");
        assert_eq!(
            index.duplicate(),
            Some(&DuplicateKey {
                key: "a.b".to_owned(),
                location: Location { line: 4, column: 3 },
                first: Location { line: 2, column: 3 },
            })
        );
        assert_eq!(index.locate("a.b"), at(2, 3));
    }

    #[test]
    fn the_same_key_in_different_mappings_is_no_duplicate() {
        assert_eq!(KeyIndex::of("a: {x: 1}\nb: {x: 1}\n").duplicate(), None);
    }

    #[test]
    fn a_key_is_written_with_any_value_and_its_parent_with_it() {
        let index = KeyIndex::of("a:\n  b: {}\n  c: ~\n");
        assert!(index.is_written("a"));
        assert!(index.is_written("a.b"));
        assert!(index.is_written("a.c"));
        assert!(!index.is_written("a.d"));
        assert!(!index.is_written("a.b.e"));
    }

    #[test]
    fn a_text_with_a_syntax_error_is_indexed_up_to_the_error() {
        let index = KeyIndex::of("a: 1\nb: [\n");
        assert_eq!(index.locate("a"), at(1, 1));
    }
}
