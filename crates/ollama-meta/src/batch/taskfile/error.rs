//! What is wrong with a task file: every problem, each with where it is.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in the task file, 1-based like an editor shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Location {
    /// The line, from 1.
    pub(crate) line: usize,
    /// The column, from 1, in characters.
    pub(crate) column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub(crate) fn of_offset(text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self { line, column: before[line_start..].chars().count() + 1 }
    }

    /// `inner`, a location inside a piece of text that starts at `self`,
    /// as a location in the whole text.
    pub(crate) fn nested(self, inner: Self) -> Self {
        if inner.line == 1 {
            Self { line: self.line, column: self.column + inner.column - 1 }
        } else {
            Self { line: self.line + inner.line - 1, column: inner.column }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which task a problem is about: its place in the file and its id when it
/// has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskRef {
    /// 1-based position in the file.
    pub(crate) index: usize,
    /// The id as written, when the task has one.
    pub(crate) id: Option<String>,
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "task {id:?} (#{})", self.index),
            None => write!(f, "task #{}", self.index),
        }
    }
}

/// One thing wrong with a task file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where, when it can be told.
    pub(crate) location: Option<Location>,
    /// The task concerned; `None` for problems with the whole file.
    pub(crate) task: Option<TaskRef>,
    /// What is wrong, for a person.
    pub(crate) message: String,
}

impl Problem {
    /// A problem with the file as a whole.
    pub(crate) fn file(location: Option<Location>, message: impl Into<String>) -> Self {
        Self { location, task: None, message: message.into() }
    }

    /// A problem with one task.
    pub(crate) fn task(
        location: Option<Location>,
        task: TaskRef,
        message: impl Into<String>,
    ) -> Self {
        Self { location, task: Some(task), message: message.into() }
    }

    /// `FILE:LINE:COLUMN: task "id" (#n): message`, like a compiler.
    pub(crate) fn display_in<'a>(&'a self, path: &'a Path) -> impl fmt::Display + 'a {
        DisplayIn { problem: self, path }
    }
}

struct DisplayIn<'a> {
    problem: &'a Problem,
    path: &'a Path,
}

impl fmt::Display for DisplayIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(location) = self.problem.location {
            write!(f, ":{location}")?;
        }
        if let Some(task) = &self.problem.task {
            write!(f, ": {task}")?;
        }
        write!(f, ": {}", self.problem.message)
    }
}

/// Why a task file could not be used. Nothing runs when there is one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TaskFileError {
    /// The file could not be read.
    #[error("cannot read task file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The extension names no format we read.
    #[error(
        "task file {} has an unknown extension; expected .yaml, .yml, .json or .jsonl",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file was read but its content is wrong; every problem is listed.
    #[error("{}", DisplayProblems { path, problems })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

/// A header line, then one problem per line.
struct DisplayProblems<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for DisplayProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "invalid task file {} ({count} {noun}); nothing was run:", self.path.display())?;
        for problem in self.problems {
            write!(f, "\n  {}", problem.display_in(self.path))?;
        }
        Ok(())
    }
}

/// Removes the ` at line N column M` that `serde_json` and `serde-saphyr` append to
/// their messages; the location is reported separately.
pub(crate) fn strip_location(message: &str) -> &str {
    let Some((head, tail)) = message.rsplit_once(" at line ") else {
        return message;
    };
    // `line 3 column 5` (serde_json) or `line 3, column 5` (serde-saphyr).
    let is_location = tail.split_once(" column ").is_some_and(|(l, c)| {
        is_number(l.strip_suffix(',').unwrap_or(l)) && is_number(c.trim_end())
    });
    if is_location { head } else { message }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(Location::of_offset(text, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of_offset(text, 3), Location { line: 2, column: 1 });
        assert_eq!(Location::of_offset(text, text.len()), Location { line: 3, column: 2 });
        let start = Location { line: 4, column: 3 };
        assert_eq!(start.nested(Location { line: 1, column: 5 }), Location { line: 4, column: 7 });
        assert_eq!(start.nested(Location { line: 2, column: 5 }), Location { line: 5, column: 5 });
    }

    #[test]
    fn location_suffixes_are_stripped() {
        assert_eq!(strip_location("unknown field `x` at line 3 column 7"), "unknown field `x`");
        assert_eq!(strip_location("fine at line one"), "fine at line one");
        assert_eq!(strip_location("plain"), "plain");
    }

    #[test]
    fn problems_render_like_a_compiler() {
        let problem = Problem::task(
            Some(Location { line: 12, column: 5 }),
            TaskRef { index: 3, id: Some("fix-bug".to_owned()) },
            "unknown field `promt`",
        );
        let path = Path::new("tasks.yaml");
        assert_eq!(
            problem.display_in(path).to_string(),
            "tasks.yaml:12:5: task \"fix-bug\" (#3): unknown field `promt`"
        );
        let err = TaskFileError::Invalid { path: path.to_owned(), problems: vec![problem] };
        assert!(err.to_string().starts_with("invalid task file tasks.yaml (1 problem)"));
    }
}
