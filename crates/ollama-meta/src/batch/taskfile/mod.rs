//! Task files: the batch `ollama-meta run` executes, in YAML, JSON or JSONL.
//!
//! A file is a list of tasks (in YAML and JSON either at the top level or
//! under a `tasks` key; in JSONL one object per line). A task has a `prompt`
//! or `messages` (exactly one) and optionally `id`, `system`, `category`,
//! `priority` (high, normal, low), `model` (a pin) or `models` (an
//! allow-list), `requires` (capabilities), `options` (Ollama options),
//! `timeout` (Go syntax, `90s`) and `format`; tasks for `ollama-meta aider`
//! also take `files` and `read` (see [`aider`]). A task without an `id` gets
//! `task-<n>`, its 1-based position, so ids stay stable between runs of the
//! same file (which `--resume` relies on).
//!
//! Reading never stops at the first mistake: every problem in the file is
//! collected, each with its line and column (or at least its task), and
//! the batch does not start while there is one.

mod aider;
mod error;
mod json;
mod spec;
mod yaml;

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::path::Path;

use om_core::Task;

pub(crate) use aider::AiderEntry;
pub(crate) use error::{Location, Problem, TaskFileError, TaskRef};

/// The key that holds the list in the wrapped form.
const TOP_LEVEL_KEY: &str = "tasks";

/// The formats a task file can be in, told by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    /// `.yaml` or `.yml`.
    Yaml,
    /// `.json`.
    Json,
    /// `.jsonl` (also `.ndjson`).
    Jsonl,
}

impl FileFormat {
    /// The format for a file name, by its extension (any case).
    pub(crate) fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// One task of the file as found, before the checks that need the whole
/// task or the whole file.
#[derive(Debug)]
struct Entry {
    /// 1-based position in the file.
    index: usize,
    /// Where the task starts, when known.
    start: Option<Location>,
    /// The id as written, read even when the task is otherwise broken, so
    /// problems can name it.
    id_hint: Option<String>,
    /// Where each key of the task is.
    fields: HashMap<String, Location>,
    /// The task, or where and why it does not deserialize.
    spec: Result<spec::TaskSpec, (Option<Location>, String)>,
}

impl Entry {
    fn field(&self, name: Option<&str>) -> Option<Location> {
        name.and_then(|n| self.fields.get(n).copied()).or(self.start)
    }

    fn task_ref(&self) -> TaskRef {
        TaskRef { index: self.index, id: self.id_hint.clone() }
    }
}

/// What a task file is read for: the keys and checks differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// LLM tasks (`ollama-meta run`): `files` and `read` are refused.
    Run,
    /// Aider sessions (`ollama-meta aider`): see [`aider`].
    Aider,
}

/// Reads and checks a task file, choosing the format by extension.
pub(crate) fn load(path: &Path) -> Result<Vec<Task>, TaskFileError> {
    load_for(path, Purpose::Run).map(|entries| entries.into_iter().map(|e| e.task).collect())
}

/// Reads and checks a task file of Aider sessions (`ollama-meta aider`).
pub(crate) fn load_aider(path: &Path) -> Result<Vec<AiderEntry>, TaskFileError> {
    load_for(path, Purpose::Aider)
}

fn load_for(path: &Path, purpose: Purpose) -> Result<Vec<AiderEntry>, TaskFileError> {
    let format = FileFormat::from_path(path)
        .ok_or_else(|| TaskFileError::UnknownFormat { path: path.to_owned() })?;
    let text = std::fs::read_to_string(path)
        .map_err(|source| TaskFileError::Read { path: path.to_owned(), source })?;
    parse_for(&text, format, purpose)
        .map_err(|problems| TaskFileError::Invalid { path: path.to_owned(), problems })
}

/// Parses and checks a task file's text: every task, in file order, or
/// every problem.
#[cfg(test)]
pub(crate) fn parse(text: &str, format: FileFormat) -> Result<Vec<Task>, Vec<Problem>> {
    parse_for(text, format, Purpose::Run)
        .map(|entries| entries.into_iter().map(|e| e.task).collect())
}

/// [`parse`] for a file of Aider sessions.
#[cfg(test)]
pub(crate) fn parse_aider(text: &str, format: FileFormat) -> Result<Vec<AiderEntry>, Vec<Problem>> {
    parse_for(text, format, Purpose::Aider)
}

fn parse_for(
    text: &str,
    format: FileFormat,
    purpose: Purpose,
) -> Result<Vec<AiderEntry>, Vec<Problem>> {
    let entries = match format {
        FileFormat::Yaml => yaml::entries(text)?,
        FileFormat::Json => json::entries(text)?,
        FileFormat::Jsonl => json::lines_entries(text),
    };
    if entries.is_empty() {
        return Err(vec![Problem::file(None, "the file has no tasks")]);
    }
    let mut problems = Vec::new();
    let mut tasks = Vec::with_capacity(entries.len());
    // Which entry first used each id, to report duplicates at the second.
    let mut seen: HashMap<String, (usize, Option<Location>)> = HashMap::new();
    for entry in &entries {
        let generated = format!("task-{}", entry.index);
        let id = match &entry.spec {
            Ok(spec) => spec.id.clone(),
            Err(_) => entry.id_hint.clone(),
        }
        .unwrap_or_else(|| generated.clone());
        let id_at = entry.field(Some("id"));
        match seen.entry(id.clone()) {
            MapEntry::Occupied(first) => {
                let (index, at) = *first.get();
                let line = at.map(|l| format!(" at line {}", l.line)).unwrap_or_default();
                problems.push(Problem::task(
                    id_at,
                    entry.task_ref(),
                    format!("duplicate id {id:?}: task #{index}{line} has it too"),
                ));
            }
            MapEntry::Vacant(slot) => {
                slot.insert((entry.index, id_at));
            }
        }
        match &entry.spec {
            Err((at, message)) => {
                problems.push(Problem::task(*at, entry.task_ref(), message.clone()));
            }
            Ok(spec) => {
                let mut found = match purpose {
                    Purpose::Run => aider::refuse_session_keys(spec),
                    Purpose::Aider => aider::check(spec, &id),
                };
                match spec.clone().into_task(generated) {
                    Ok(task) if found.is_empty() => tasks.push(AiderEntry::new(task, spec)),
                    Ok(_) => {}
                    Err(more) => found.extend(more),
                }
                problems.extend(
                    found
                        .into_iter()
                        .map(|p| Problem::task(entry.field(p.field), entry.task_ref(), p.message)),
                );
            }
        }
    }
    if problems.is_empty() { Ok(tasks) } else { Err(problems) }
}

#[cfg(test)]
mod tests;
