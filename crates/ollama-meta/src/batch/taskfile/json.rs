//! JSON task files (`{"tasks": [...]}` or a top-level array) and JSONL (one
//! task object per line).
//!
//! Each JSON task is read as a borrowed `RawValue` first, so its position in
//! the file is known and the errors of deserializing it alone (`serde_json`
//! reports line and column within the piece) map back to exact file
//! positions.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::batch::taskfile::error::{Location, Problem, strip_location};
use crate::batch::taskfile::spec::TaskSpec;
use crate::batch::taskfile::{Entry, TOP_LEVEL_KEY};

/// `{"tasks": [...]}`; nothing else may sit beside the list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapped<'a> {
    #[serde(borrow)]
    tasks: Option<Vec<&'a RawValue>>,
}

/// The entries of a JSON task file, or the problems with its shape.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, Vec<Problem>> {
    // A first pass over the generic value reports syntax errors with their
    // location and tells the two shapes apart.
    let document: serde_json::Value =
        serde_json::from_str(text).map_err(|err| vec![problem_at(&err, None)])?;
    let items: Vec<&RawValue> = match document {
        serde_json::Value::Array(_) => serde_json::from_str(text),
        serde_json::Value::Object(_) => {
            serde_json::from_str::<Wrapped<'_>>(text).map(|w| w.tasks.unwrap_or_default())
        }
        _ => {
            return Err(vec![Problem::file(
                Some(Location { line: 1, column: 1 }),
                format!("expected an array of tasks, or an object with a `{TOP_LEVEL_KEY}` array"),
            )]);
        }
    }
    .map_err(|err| vec![problem_at(&err, None)])?;
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            // The piece borrows from `text`, so its offset is the distance
            // between the two pointers.
            let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            entry(i + 1, raw.get(), Location::of_offset(text, offset))
        })
        .collect())
}

/// The entries of a JSONL file: one task per non-blank line.
pub(super) fn lines_entries(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .enumerate()
        .map(|(i, (n, line))| entry(i + 1, line, Location { line: n + 1, column: 1 }))
        .collect()
}

fn entry(index: usize, text: &str, start: Location) -> Entry {
    let spec = serde_json::from_str::<TaskSpec>(text)
        .map_err(|err| (Some(start.nested(location(&err))), message(&err)));
    let id_hint = match serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .as_ref()
        .and_then(|v| v.get("id"))
    {
        Some(serde_json::Value::String(id)) => Some(id.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let fields = key_locations(text).into_iter().map(|(k, at)| (k, start.nested(at))).collect();
    Entry { index, start: Some(start), id_hint, fields, spec }
}

fn location(err: &serde_json::Error) -> Location {
    Location { line: err.line().max(1), column: err.column().max(1) }
}

fn message(err: &serde_json::Error) -> String {
    strip_location(&err.to_string()).to_owned()
}

fn problem_at(err: &serde_json::Error, start: Option<Location>) -> Problem {
    let at = location(err);
    Problem::file(Some(start.map_or(at, |s| s.nested(at))), message(err))
}

/// Where each key of the object's own level starts (its opening quote),
/// found by a small scan that tracks strings and nesting.
fn key_locations(text: &str) -> HashMap<String, Location> {
    let mut keys = HashMap::new();
    let mut depth = 0_usize;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let mut key = String::new();
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {
                            escaped = false;
                            key.push(c);
                        }
                    }
                }
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
                if depth == 1 && chars.peek().is_some_and(|(_, c)| *c == ':') {
                    keys.entry(key).or_insert_with(|| Location::of_offset(text, at));
                }
            }
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_outer_object_only() {
        let text = "{\"id\": \"a\",\n \"options\": {\"seed\": 1}, \"prompt\": \"x: \\\"y\\\"\"}";
        let keys = key_locations(text);
        assert_eq!(keys["id"], Location { line: 1, column: 2 });
        assert_eq!(keys["prompt"], Location { line: 2, column: 26 });
        assert!(keys.contains_key("options"));
        assert!(!keys.contains_key("seed"));
    }
}
