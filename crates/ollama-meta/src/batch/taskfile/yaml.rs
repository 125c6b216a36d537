//! YAML task files: `tasks: [...]` or a top-level list.
//!
//! `serde_yaml`'s `Value` keeps no positions, so the document is parsed twice
//! when a task is wrong: once whole (syntax errors carry their location,
//! and the `Value` is what counts), and then, for a task that does not
//! deserialize, its own lines alone, which gives the error's exact line and
//! column. The lines of each task are found by a scan for the list's `- `
//! markers; when the scan disagrees with the parser (flow style, odd
//! layouts) problems are reported by task number without a line.

use std::collections::HashMap;

use serde_yaml::Value;

use crate::batch::taskfile::error::{Location, Problem, strip_location};
use crate::batch::taskfile::spec::{FIELDS, TaskSpec};
use crate::batch::taskfile::{Entry, TOP_LEVEL_KEY};

/// The entries of a YAML task file, or the problems with its shape.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, Vec<Problem>> {
    let document: Value = serde_yaml::from_str(text).map_err(|err| vec![syntax_problem(&err)])?;
    let (items, wrapped) = match document {
        Value::Sequence(items) => (items, false),
        Value::Mapping(mut map) => {
            let unknown: Vec<Problem> = map
                .keys()
                .filter(|key| key.as_str() != Some(TOP_LEVEL_KEY))
                .map(|key| {
                    let name = key.as_str().map_or_else(|| format!("{key:?}"), str::to_owned);
                    Problem::file(
                        top_level_key_location(text, &name),
                        format!("unknown top-level key `{name}`; expected `{TOP_LEVEL_KEY}`"),
                    )
                })
                .collect();
            if !unknown.is_empty() {
                return Err(unknown);
            }
            match map.remove(TOP_LEVEL_KEY) {
                Some(Value::Sequence(items)) => (items, true),
                Some(Value::Null) => (Vec::new(), true),
                Some(_) => {
                    return Err(vec![Problem::file(
                        top_level_key_location(text, TOP_LEVEL_KEY),
                        format!("`{TOP_LEVEL_KEY}` must be a list of tasks"),
                    )]);
                }
                None => return Err(vec![shape_problem()]),
            }
        }
        Value::Null => (Vec::new(), false),
        _ => return Err(vec![shape_problem()]),
    };
    let spans = item_spans(text, wrapped).filter(|spans| spans.len() == items.len());
    let lines: Vec<&str> = text.lines().collect();
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let span = spans.as_ref().map(|spans| &spans[i]);
            entry(i + 1, item, span, &lines)
        })
        .collect())
}

fn shape_problem() -> Problem {
    Problem::file(
        Some(Location { line: 1, column: 1 }),
        format!("expected a list of tasks, or a mapping with a `{TOP_LEVEL_KEY}` list"),
    )
}

fn syntax_problem(err: &serde_yaml::Error) -> Problem {
    let location = err.location().map(|l| Location { line: l.line(), column: l.column() });
    Problem::file(location, strip_location(&err.to_string()))
}

fn entry(index: usize, item: Value, span: Option<&Span>, lines: &[&str]) -> Entry {
    let id_hint = match item.get("id") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let start = span.map(|s| Location { line: s.first + 1, column: s.dash + 1 });
    let fields = span.map(|s| s.fields(lines)).unwrap_or_default();
    let spec = serde_yaml::from_value::<TaskSpec>(item).map_err(|err| {
        // Re-read the task's own lines for the exact location; the whole
        // document's `Value` is authoritative for whether it is wrong.
        let located = span.and_then(|s| serde_yaml::from_str::<TaskSpec>(&s.text(lines)).err());
        match located.as_ref().and_then(|e| e.location().map(|l| (e, l))) {
            Some((err, at)) => {
                let inner = Location { line: at.line(), column: at.column() };
                let line_start = Location { line: start.map_or(1, |s| s.line), column: 1 };
                (Some(line_start.nested(inner)), message(err))
            }
            None => (start, message(&err)),
        }
    });
    Entry { index, start, id_hint, fields, spec }
}

/// The error's message without its location, and without the path
/// `serde_yaml` puts first when that is just the key the location points at
/// (`priority: unknown priority …`); nested paths (`messages[0].role`) stay.
fn message(err: &serde_yaml::Error) -> String {
    let text = err.to_string();
    let message = strip_location(&text);
    match message.split_once(": ") {
        Some((path, rest)) if FIELDS.contains(&path) => rest.to_owned(),
        _ => message.to_owned(),
    }
}

/// Where one list item sits: its lines `first..end` (0-based) and the
/// column of its `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    first: usize,
    end: usize,
    dash: usize,
}

impl Span {
    /// The item's lines with its `-` blanked, so they parse as a mapping
    /// whose columns match the file's.
    fn text(&self, lines: &[&str]) -> String {
        let mut out = String::new();
        for (n, line) in lines[self.first..self.end].iter().enumerate() {
            if n == 0 {
                out.push_str(&line[..self.dash]);
                out.push(' ');
                out.push_str(&line[self.dash + 1..]);
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        out
    }

    /// The location of each key of the item's mapping, for checks made
    /// after parsing (`prompt` and `messages` both given, a duplicate id).
    fn fields(&self, lines: &[&str]) -> HashMap<String, Location> {
        let first = lines[self.first];
        let after_dash = &first[self.dash + 1..];
        let key_column = self.dash + 1 + (after_dash.len() - after_dash.trim_start().len());
        let mut fields = HashMap::new();
        for (n, line) in lines.iter().enumerate().take(self.end).skip(self.first) {
            let Some(rest) = line.get(key_column..) else { continue };
            let indent_ok = n == self.first || line[..key_column].bytes().all(|b| b == b' ');
            if !indent_ok {
                continue;
            }
            let key_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if key_len > 0 && rest[key_len..].trim_start_matches(' ').starts_with(':') {
                fields
                    .entry(rest[..key_len].to_owned())
                    .or_insert(Location { line: n + 1, column: key_column + 1 });
            }
        }
        fields
    }
}

/// True for lines that carry no content: blank, comments, document markers.
fn is_noise(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed.starts_with('%')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// True when `line` starts a list item at exactly column `dash`.
fn is_item_at(line: &str, dash: usize) -> bool {
    indent(line) == dash
        && line[dash..].starts_with('-')
        && line[dash + 1..].chars().next().is_none_or(char::is_whitespace)
}

/// The spans of the task list's items, found by scanning for `- ` at the
/// list's indentation; `None` when the layout is not the plain block style.
fn item_spans(text: &str, wrapped: bool) -> Option<Vec<Span>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    if wrapped {
        // Find the `tasks:` key at the root mapping's indentation.
        let root = lines.iter().find(|l| !is_noise(l)).map(|l| indent(l))?;
        loop {
            let line = lines.get(n)?;
            n += 1;
            if !is_noise(line) && indent(line) == root && is_key(&line[root..], TOP_LEVEL_KEY) {
                break;
            }
        }
    }
    while lines.get(n).is_some_and(|l| is_noise(l)) {
        n += 1;
    }
    let dash = indent(lines.get(n)?);
    if !is_item_at(lines[n], dash) {
        return None;
    }
    let mut spans: Vec<Span> = Vec::new();
    while let Some(line) = lines.get(n) {
        if is_noise(line) {
            n += 1;
            continue;
        }
        if is_item_at(line, dash) {
            if let Some(last) = spans.last_mut() {
                last.end = n;
            }
            spans.push(Span { first: n, end: lines.len(), dash });
        } else if indent(line) <= dash {
            break;
        }
        n += 1;
    }
    if let Some(last) = spans.last_mut() {
        last.end = last.end.min(n);
    }
    Some(spans)
}

/// True when `rest` is `key:` (then a space, a comment or the end).
fn is_key(rest: &str, key: &str) -> bool {
    rest.strip_prefix(key)
        .map(|after| after.trim_start_matches(' '))
        .and_then(|after| after.strip_prefix(':'))
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '#']))
}

fn top_level_key_location(text: &str, key: &str) -> Option<Location> {
    text.lines().enumerate().find_map(|(n, line)| {
        let column = indent(line);
        is_key(&line[column..], key).then_some(Location { line: n + 1, column: column + 1 })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_list_markers() {
        let text = "# batch\ntasks:\n  - id: a\n    prompt: |\n      - not an item\n\n  # note\n  - id: b\n    prompt: x\nother: 1\n";
        let spans = item_spans(text, true).unwrap();
        assert_eq!(
            spans,
            vec![Span { first: 2, end: 7, dash: 2 }, Span { first: 7, end: 9, dash: 2 }]
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(spans[1].text(&lines), "    id: b\n    prompt: x\n");
        let fields = spans[0].fields(&lines);
        assert_eq!(fields["prompt"], Location { line: 4, column: 5 });
        assert!(!fields.contains_key("- not an item"));
    }

    #[test]
    fn dash_at_the_key_column_and_top_level_lists() {
        let text = "tasks:\n- prompt: a\n- prompt: b\n";
        assert_eq!(item_spans(text, true).unwrap().len(), 2);
        let text = "---\n- prompt: a\n-\n  prompt: b\n";
        let spans = item_spans(text, false).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[1], Span { first: 2, end: 4, dash: 0 });
        assert!(item_spans("[{prompt: a}]", false).is_none());
    }
}
