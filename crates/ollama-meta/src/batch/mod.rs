//! The batch runner's parts: task files, the results journal, the progress
//! display, the summary, the idle-capacity figures and the HTML report,
//! and the core both batch commands run on (`flow`: results file, resume,
//! services; `drive`: dispatcher, journaling, Ctrl-C; `running`: what each
//! running task is doing).
//!
//! `ollama-meta run` and `ollama-meta aider` put them together (in
//! `cmd::run` and `cmd::aider`) with their own executor; none of these
//! parts knows how a task is executed.

pub(crate) mod drive;
pub(crate) mod flow;
pub(crate) mod idle;
pub(crate) mod interrupt;
pub(crate) mod journal;
pub(crate) mod progress;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod running;
pub(crate) mod summary;
pub(crate) mod taskfile;
