//! The batch runner's parts: task files, the results journal, the progress
//! display, the summary, the idle-capacity figures and the HTML report.
//!
//! `ollama-meta run` puts them together (in `cmd::run`); the `aider`
//! command reuses the task file, journal, progress and summary, so none of
//! them knows how a task is executed.

pub(crate) mod idle;
pub(crate) mod journal;
pub(crate) mod progress;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod summary;
pub(crate) mod taskfile;
