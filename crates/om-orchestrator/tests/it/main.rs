//! Integration tests of om-orchestrator against simulated endpoints, on
//! virtual time.

mod config;
mod failover;
mod flow;
mod forward;
mod hedge;
mod limit;
mod recording;
mod support;
