//! Integration tests of the facade crate: third-party clients against the
//! simulator, and the `ollama-meta` binary end to end.

mod aider;
mod cli;
mod models;
mod ollama_rs_compat;
mod run;
mod serve;
