//! ollama-meta: one dependable place to send LLM work across a fleet of
//! Ollama servers.
//!
//! This crate is the facade (ripgrep's `grep` crate is the model): it
//! re-exports each workspace crate as a module behind a feature, and ships the
//! `ollama-meta` binary. `om-core`, the shared vocabulary, is always on and its
//! key types are re-exported at the root.
//!
//! | feature | module | what it adds | default |
//! |---|---|---|---|
//! | `client` | [`client`] | a client for one Ollama endpoint (`om-client`) | via `cli` |
//! | `config` | [`config`] | configuration loading and validation (`om-config`) | via `cli` |
//! | `sim` | [`sim`] | the simulated Ollama server (`om-sim`) | via `cli` |
//! | `registry` | [`registry`] | the fleet catalog and live per-instance state (`om-registry`) | via `cli` |
//! | `discovery` | [`discovery`] | probes the endpoints and keeps the registry true (`om-discovery`); implies `registry` | via `cli` |
//! | `router` | [`router`] | eligibility filters and routing strategies (`om-router`); implies `registry` | via `cli` |
//! | `metrics` | [`metrics`] | latency, token-rate and error metrics (`om-metrics`) | via `cli` |
//! | `dispatch` | [`dispatch`] | the task dispatcher: priority queue, N workers, events (`om-dispatch`) | via `cli` |
//! | `orchestrator` | [`orchestrator`] | executes tasks on a fleet built from configuration (`om-orchestrator`); implies `client`, `config`, `discovery`, `router`, `metrics` | via `cli` |
//! | `gateway` | [`gateway`] | the Ollama- and OpenAI-compatible HTTP front for the fleet (`om-gateway`); implies `orchestrator` | via `cli` |
//! | `pool` | [`pool`] | the agent pool: min/max, autoscaling, quotas, recycling, saved state (`om-pool`) | via `cli` |
//! | `aider` | [`aider`] | headless Aider sessions in git worktrees, model selection, pool agents and a dispatcher executor (`om-aider`); implies `pool`, `registry`, `dispatch` | via `cli` |
//! | `full` | all of the above | every library crate | via `cli` |
//! | `cli` | — | the `ollama-meta` binary | yes |
//!
//! ```
//! use ollama_meta::ModelName;
//!
//! let name: ModelName = "Llama3.2".parse()?;
//! assert_eq!(name, "registry.ollama.ai/library/llama3.2:latest".parse()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use om_core as core;
pub use om_core::{
    Capabilities, Capability, EndpointId, EndpointUrl, Error, ErrorKind, ModelName, Priority,
    TaskCategory, TaskId,
};

#[cfg(feature = "aider")]
pub use om_aider as aider;
#[cfg(feature = "client")]
pub use om_client as client;
#[cfg(feature = "config")]
pub use om_config as config;
#[cfg(feature = "discovery")]
pub use om_discovery as discovery;
#[cfg(feature = "dispatch")]
pub use om_dispatch as dispatch;
#[cfg(feature = "gateway")]
pub use om_gateway as gateway;
#[cfg(feature = "metrics")]
pub use om_metrics as metrics;
#[cfg(feature = "orchestrator")]
pub use om_orchestrator as orchestrator;
#[cfg(feature = "pool")]
pub use om_pool as pool;
#[cfg(feature = "registry")]
pub use om_registry as registry;
#[cfg(feature = "router")]
pub use om_router as router;
#[cfg(feature = "sim")]
pub use om_sim as sim;
