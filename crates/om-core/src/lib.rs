//! The vocabulary of ollama-meta: domain types, Ollama wire types, the error
//! model, backoff and the [`ChunkStream`] of decoded answers. No I/O happens
//! here.
//!
//! `om-core` sits at the bottom of the workspace DAG; every other crate
//! depends on it and it depends on no workspace crate. It changes rarely and
//! stays small (tower's `tower-service` is the model).
//!
//! - Names and ids: [`ModelName`] (Ollama's normalisation: `x` ≡ `x:latest` ≡
//!   `registry.ollama.ai/library/x:latest`, case-insensitive), [`EndpointId`],
//!   [`TaskId`], [`RequestId`].
//! - Task vocabulary: [`Task`] (one unit of LLM work), [`TaskCategory`] (7),
//!   [`Priority`] (3), [`Capability`] and [`Capabilities`].
//! - Wire types for every native endpoint in [`wire`], shared by the client,
//!   the gateway and the simulator.
//! - One [`Error`] with an [`ErrorKind`] and predicates
//!   ([`Error::is_retryable`], [`Error::is_failover`], [`Error::is_busy`],
//!   [`Error::is_resendable`], [`Error::http_status`]): the one
//!   classification of failures every crate decides by.
//! - Pure helpers the protocol needs: Go duration syntax ([`GoDuration`]),
//!   `OLLAMA_HOST` parsing ([`EndpointUrl`]) and RFC 3339 timestamps
//!   ([`time`]), seeded randomness ([`rng`]) and the one [`Backoff`].
//!
//! ```
//! use om_core::{EndpointUrl, ModelName, wire::GenerateRequest};
//!
//! let url: EndpointUrl = ":11500".parse()?;
//! assert_eq!(url.to_string(), "http://127.0.0.1:11500");
//! let request = GenerateRequest::new("llama3.2", "why is the sky blue?");
//! let model: ModelName = request.model.parse()?;
//! assert_eq!(model.to_string(), "llama3.2:latest");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api_kind;
mod backoff;
mod chunks;
mod declared;
mod duration;
mod error;
mod fleet_event;
mod host;
mod job;
mod name;
pub mod rng;
mod task;
pub mod time;
pub mod wire;

pub use api_kind::ApiKind;
pub use backoff::{Backoff, BackoffPolicy, Jitter};
pub use chunks::ChunkStream;
pub use declared::DeclaredCapabilities;
pub use duration::{GoDuration, ParseDurationError, format_duration};
pub use error::{BoxError, Error, ErrorKind, Result, TimeoutPhase};
pub use fleet_event::FleetEvent;
pub use host::{DEFAULT_PORT, EndpointUrl, ParseHostError, Scheme};
pub use job::{ModelChoice, Prompt, Task};
pub use name::{
    DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG, EndpointId, ModelName, ParseNameError, RequestId,
    TaskId,
};
pub use task::{Capabilities, Capability, Priority, TaskCategory, UnknownNameError};
