//! Task files for `ollama-meta aider`: the same format as `run`, plus
//! `files` (the files an Aider session edits, added to its chat) and
//! `read` (files it may read but not edit), both relative to the
//! repository root.
//!
//! An Aider session takes one message, so a task has a `prompt` (not
//! `messages`); `system`, `options`, `format` and `requires` mean nothing to
//! Aider and are refused rather than ignored. The id names the session's
//! worktree and its branch `om/<id>`, so it must be a plain name (letters,
//! digits, `-`, `_`, `.`), and no file may leave the repository. `model` or
//! `models` limit the choice of model, `category` feeds the selection,
//! `priority` orders the queue, and `timeout` bounds the session.

use om_aider::{RepoPath, SessionName};
use om_core::{Task, TaskId};

use crate::batch::taskfile::spec::{FieldProblem, TaskSpec};

/// A task of an Aider task file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AiderEntry {
    /// The task, as for `run`.
    pub(crate) task: Task,
    /// Files to edit.
    pub(crate) files: Vec<String>,
    /// Files to read.
    pub(crate) read: Vec<String>,
}

impl AiderEntry {
    pub(super) fn new(task: Task, spec: &TaskSpec) -> Self {
        Self {
            task,
            files: spec.files.clone().unwrap_or_default(),
            read: spec.read.clone().unwrap_or_default(),
        }
    }
}

fn problem(field: &'static str, message: impl Into<String>) -> FieldProblem {
    FieldProblem { field: Some(field), message: message.into() }
}

/// `run` refuses the Aider-only keys.
pub(super) fn refuse_session_keys(spec: &TaskSpec) -> Vec<FieldProblem> {
    [("files", spec.files.is_some()), ("read", spec.read.is_some())]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(key, _)| problem(key, format!("`{key}` is for `ollama-meta aider` tasks")))
        .collect()
}

/// The Aider rules for a task whose id (given or generated) is `id`.
pub(super) fn check(spec: &TaskSpec, id: &str) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if spec.messages.is_some() {
        problems.push(problem("messages", "an Aider session takes one `prompt`, not `messages`"));
    }
    let unused = [
        ("system", spec.system.is_some()),
        ("options", spec.options.is_some()),
        ("format", spec.format.is_some()),
        ("requires", spec.requires.is_some()),
    ];
    for (key, _) in unused.into_iter().filter(|(_, present)| *present) {
        problems.push(problem(key, format!("`{key}` is not used by Aider sessions; remove it")));
    }
    if let Err(err) = SessionName::new(&TaskId::new(id)) {
        problems.push(problem("id", format!("{err}; it names the branch om/<id>")));
    }
    for (key, paths) in [("files", &spec.files), ("read", &spec.read)] {
        for path in paths.iter().flatten() {
            if let Err(err) = RepoPath::new(path) {
                problems.push(problem(key, format!("{err} (paths are relative to --repo)")));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::batch::taskfile::{FileFormat, Path, parse, parse_aider};

    fn messages(text: &str) -> Vec<String> {
        parse_aider(text, FileFormat::Yaml)
            .expect_err("the file is invalid")
            .iter()
            .map(|p| p.display_in(Path::new("t.yaml")).to_string())
            .collect()
    }

    #[test]
    fn files_and_read_are_read() {
        let text = "
- id: fix-1
  prompt: fix the bug in a.py
  files: [a.py, 'dir with space/b.py']
  read: [README.md]
  model: qwen2.5-coder:7b
  timeout: 5m
- prompt: just a question
";
        let entries = parse_aider(text, FileFormat::Yaml).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].task.id.as_str(), "fix-1");
        assert_eq!(entries[0].files, ["a.py", "dir with space/b.py"]);
        assert_eq!(entries[0].read, ["README.md"]);
        assert!(entries[1].files.is_empty() && entries[1].read.is_empty());
        assert_eq!(entries[1].task.id.as_str(), "task-2");
    }

    #[test]
    fn run_refuses_session_keys_with_their_location() {
        let problems = parse("- prompt: p\n  files: [a.py]\n", FileFormat::Yaml).unwrap_err();
        let shown: Vec<String> =
            problems.iter().map(|p| p.display_in(Path::new("t.yaml")).to_string()).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains("t.yaml:2"), "{shown:?}");
        assert!(shown[0].contains("`files` is for `ollama-meta aider` tasks"), "{shown:?}");
    }

    #[test]
    fn aider_rules_are_checked_together() {
        let text = "
- id: ../escape
  prompt: p
  files: [../outside.py, ok.py]
  read: [/etc/passwd]
- id: conv
  messages: [{role: user, content: hi}]
  system: s
  options: {temperature: 0}
";
        let shown = messages(text);
        let all = shown.join("\n");
        assert!(all.contains("t.yaml:2") && all.contains("cannot name a worktree"), "{all}");
        assert!(all.contains("t.yaml:4") && all.contains("climbs out"), "{all}");
        assert!(all.contains("t.yaml:5") && all.contains("is absolute"), "{all}");
        assert!(all.contains("not `messages`"), "{all}");
        assert!(all.contains("`system` is not used"), "{all}");
        assert!(all.contains("`options` is not used"), "{all}");
        assert_eq!(shown.len(), 6, "{all}");
    }
}
