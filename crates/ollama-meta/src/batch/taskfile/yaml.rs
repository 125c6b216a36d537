//! YAML task files: `tasks: [...]` or a top-level list.
//!
//! The document is parsed once, by `serde-saphyr`, into nodes that keep
//! their positions: each task is a list of (key, value) pairs, each with
//! where it was written. A task is then deserialized from its own nodes
//! through a map reader that remembers which node it was reading, so an
//! error lands on that node's line and column (the key for an unknown
//! field, the value for a bad one, the task's `-` for a missing one), and
//! one broken task does not hide the problems of the others.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::batch::taskfile::error::{Location, Problem, strip_location};
use crate::batch::taskfile::spec::TaskSpec;
use crate::batch::taskfile::{Entry, TOP_LEVEL_KEY};

/// The entries of a YAML task file, or the problems with its shape.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, Vec<Problem>> {
    if text.lines().all(is_noise) {
        return Ok(Vec::new());
    }
    // YAML 1.2's booleans only, as the other YAML readers of the ecosystem:
    // `prompt: y` is the letter, not `true`.
    let options = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    let document: Document =
        serde_saphyr::from_str_with_options(text, options).map_err(|err| vec![syntax(&err)])?;
    let items = match document {
        Document::List(items) => items,
        Document::Wrapped { tasks, unknown } => {
            if !unknown.is_empty() {
                return Err(unknown
                    .into_iter()
                    .map(|key| {
                        Problem::file(
                            Some(key.at),
                            format!(
                                "unknown top-level key `{}`; expected `{TOP_LEVEL_KEY}`",
                                key.name
                            ),
                        )
                    })
                    .collect());
            }
            match tasks {
                Some((_, Tasks::List(items))) => items,
                Some((_, Tasks::Empty)) => Vec::new(),
                Some((at, Tasks::NotList)) => {
                    return Err(vec![Problem::file(
                        Some(at),
                        format!("`{TOP_LEVEL_KEY}` must be a list of tasks"),
                    )]);
                }
                None => return Err(vec![shape_problem()]),
            }
        }
        Document::Empty => Vec::new(),
        Document::Other => return Err(vec![shape_problem()]),
    };
    let lines: Vec<&str> = text.lines().collect();
    Ok(items.into_iter().enumerate().map(|(i, item)| entry(i + 1, item, &lines)).collect())
}

fn shape_problem() -> Problem {
    Problem::file(
        Some(Location { line: 1, column: 1 }),
        format!("expected a list of tasks, or a mapping with a `{TOP_LEVEL_KEY}` list"),
    )
}

fn syntax(err: &serde_saphyr::Error) -> Problem {
    let location = err.location().map(|l| location(&l));
    let text = err.to_string();
    // The message alone: its first line, without the position around it
    // (`error: line 2 column 13: unclosed bracket`), reported apart.
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => rest,
        _ => first,
    };
    Problem::file(location, strip_location(first).to_owned())
}

fn location(at: &serde_saphyr::Location) -> Location {
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).max(1);
    Location { line: as_usize(at.line()), column: as_usize(at.column()) }
}

/// True for lines that carry no content: blank, comments, document markers.
fn is_noise(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed.starts_with('%')
}

fn entry(index: usize, item: Spanned<Item>, lines: &[&str]) -> Entry {
    let start = Some(dash(location(&item.referenced), lines));
    let Item::Map(nodes) = item.value else {
        let spec = Err((start, "a task must be a mapping of keys to values".to_owned()));
        return Entry { index, start, id_hint: None, fields: HashMap::new(), spec };
    };
    let id_hint = nodes.iter().find(|n| n.key == "id").and_then(|n| match &n.value {
        Value::String(id) => Some(id.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    });
    let mut fields = HashMap::new();
    for node in &nodes {
        fields.entry(node.key.clone()).or_insert(node.key_at);
    }
    let mut reader = Reader { nodes: nodes.into_iter(), value: None, start, at: start };
    let spec = TaskSpec::deserialize(MapAccessDeserializer::new(&mut reader))
        .map_err(|err| (reader.at, strip_location(&err.to_string()).to_owned()));
    Entry { index, start, id_hint, fields, spec }
}

/// A block-list item's location is its first key; its task is named at its
/// `-`, like the other formats name an object at its `{`.
fn dash(at: Location, lines: &[&str]) -> Location {
    let Some(line) = lines.get(at.line - 1) else { return at };
    let before: Vec<char> = line.chars().take(at.column - 1).collect();
    let mut column = before.len();
    while column > 0 && before[column - 1] == ' ' {
        column -= 1;
    }
    if column > 0 && before[column - 1] == '-' { Location { line: at.line, column } } else { at }
}

/// The parsed document: a list of tasks, a mapping with a `tasks` key, or
/// neither.
enum Document {
    List(Vec<Spanned<Item>>),
    Wrapped {
        /// Where the `tasks` key is, and its value.
        tasks: Option<(Location, Tasks)>,
        unknown: Vec<Key>,
    },
    Empty,
    Other,
}

/// The value of the `tasks` key.
enum Tasks {
    List(Vec<Spanned<Item>>),
    Empty,
    NotList,
}

struct Key {
    name: String,
    at: Location,
}

/// One list item: a mapping's nodes in file order, or something else.
enum Item {
    Map(Vec<Node>),
    Other,
}

/// A key of a task and its value, each with where it was written.
struct Node {
    key: String,
    key_at: Location,
    value: Value,
    value_at: Location,
}

/// Accepts anything that is not the expected container as `other`, so the
/// caller can say what it expected instead of serde's generic message.
macro_rules! accept_scalars_as {
    ($other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;

        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a list of tasks, or a mapping with a `{TOP_LEVEL_KEY}` list")
            }

            accept_scalars_as!(Document::Other);

            fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
                Ok(Document::Empty)
            }

            fn visit_none<E: de::Error>(self) -> Result<Document, E> {
                Ok(Document::Empty)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Document::List(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
                let mut tasks = None;
                let mut unknown = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let at = location(&key.referenced);
                    if key.value == TOP_LEVEL_KEY && tasks.is_none() {
                        tasks = Some((at, map.next_value::<Tasks>()?));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        unknown.push(Key { name: key.value, at });
                    }
                }
                Ok(Document::Wrapped { tasks, unknown })
            }
        }

        deserializer.deserialize_any(DocumentVisitor)
    }
}

impl<'de> Deserialize<'de> for Tasks {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TasksVisitor;

        impl<'de> Visitor<'de> for TasksVisitor {
            type Value = Tasks;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tasks")
            }

            accept_scalars_as!(Tasks::NotList);

            fn visit_unit<E: de::Error>(self) -> Result<Tasks, E> {
                Ok(Tasks::Empty)
            }

            fn visit_none<E: de::Error>(self) -> Result<Tasks, E> {
                Ok(Tasks::Empty)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tasks, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tasks::NotList)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tasks, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Tasks::List(items))
            }
        }

        deserializer.deserialize_any(TasksVisitor)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;

        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a task")
            }

            accept_scalars_as!(Item::Other);

            fn visit_unit<E: de::Error>(self) -> Result<Item, E> {
                Ok(Item::Other)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Item::Other)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut nodes = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Spanned<Value>>()?;
                    nodes.push(Node {
                        key: key.value,
                        key_at: location(&key.referenced),
                        value: value.value,
                        value_at: location(&value.referenced),
                    });
                }
                Ok(Item::Map(nodes))
            }
        }

        deserializer.deserialize_any(ItemVisitor)
    }
}

/// Reads a task's nodes as a map, remembering where it is: after an error,
/// `at` is the node it was reading (the task's start once all are read).
struct Reader {
    nodes: std::vec::IntoIter<Node>,
    value: Option<(Value, Location)>,
    start: Option<Location>,
    at: Option<Location>,
}

impl<'de> MapAccess<'de> for Reader {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some(node) = self.nodes.next() else {
            // What fails now (a missing field) is the task's as a whole.
            self.at = self.start;
            return Ok(None);
        };
        self.at = Some(node.key_at);
        self.value = Some((node.value, node.value_at));
        let key: StringDeserializer<Self::Error> = node.key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (value, at) = self.value.take().ok_or_else(|| {
            <Self::Error as de::Error>::custom("a value was asked for before its key")
        })?;
        self.at = Some(at);
        seed.deserialize(value)
    }
}
