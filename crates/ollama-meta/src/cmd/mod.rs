//! The subcommands of the `ollama-meta` binary, one module each.

pub(crate) mod aider;
pub(crate) mod bad_input;
pub(crate) mod config;
pub(crate) mod docs;
pub(crate) mod models;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod sim;
