//! Integration tests of om-aider: the command builder, sessions against a
//! temporary repository and a fake Aider, selection on a registry, and the
//! executor through the dispatcher and the pool.

mod agents;
mod command;
#[cfg(unix)]
mod executor;
#[cfg(unix)]
mod select;
#[cfg(unix)]
mod session;
#[cfg(unix)]
mod support;
