//! ollama-meta: one dependable place to send LLM work across a fleet of
//! Ollama servers.
//!
//! This crate is the facade: it re-exports the workspace crates as modules
//! behind features and ships the `ollama-meta` binary.

pub use om_core as core;
pub use om_core::{Capabilities, Capability, EndpointUrl, Error, ErrorKind, ModelName, Priority, TaskCategory};
