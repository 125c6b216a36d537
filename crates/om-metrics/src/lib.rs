//! Observability for ollama-meta: request counts, errors by kind, latency,
//! time-to-first-token and token-rate histograms, in-flight and queue gauges,
//! per-category task statistics and breaker transitions; exported as a JSON
//! [`Snapshot`] and in the Prometheus text format; plus a broadcast stream of
//! fleet [`Event`]s. There is no global registry: a [`Metrics`] is built in
//! `main` and passed down.
//!
//! `om-metrics` sits one floor above `om-core` and depends on nothing else of
//! ours. The orchestrator records into it; the gateway reads it
//! (`/metrics`, `/api/meta/status`);
//! om-discovery does not know it (the orchestrator forwards discovery changes
//! as events). Metrics are observability, never routing input: live instance
//! state for routing lives in om-registry.
//!
//! - [`Metrics`]: the cheap, cloneable handle; one lock, held for a few
//!   counter updates per record, never across `.await`.
//! - Recording inputs: [`RequestRecord`] (one attempt at one endpoint ×
//!   model), [`InFlight`] (an RAII in-flight guard), [`TaskStart`] and
//!   [`TaskRecord`] (whole tasks, all attempts included),
//!   [`BreakerTransition`]; outcomes are [`Outcome`]s carrying an
//!   [`om_core::ErrorKind`], so error labels stay a closed set.
//! - Reading: [`Snapshot`] (serde `Serialize`; per instance, per model, per
//!   category, with p50/p95/p99 as [`Distribution`]s) and
//!   [`Snapshot::to_prometheus`] (names and labels in [`prometheus`], bucket
//!   bounds in [`buckets`]).
//! - Events: [`Event`] over [`Metrics::subscribe`]; bounded, lossy for
//!   subscribers that lag (see [`event`]).
//!
//! ```
//! use std::time::Duration;
//! use om_core::{EndpointId, ErrorKind, ModelName, TaskCategory};
//! use om_metrics::{Metrics, Outcome, RequestRecord};
//!
//! let metrics = Metrics::new();
//! let endpoint = EndpointId::new("gpu-box");
//! let model: ModelName = "qwen2.5-coder:7b".parse()?;
//!
//! {
//!     let _in_flight = metrics.start_request(&endpoint, &model);
//!     // … send the request; the guard ends the in-flight count when dropped.
//! }
//! metrics.record_request(
//!     RequestRecord::new(&endpoint, &model, Outcome::Ok, Duration::from_millis(1200))
//!         .with_category(TaskCategory::Coding)
//!         .with_ttft(Duration::from_millis(150))
//!         .with_tokens(96, 88.0),
//! );
//! metrics.record_request(RequestRecord::new(
//!     &endpoint,
//!     &model,
//!     Outcome::Err(ErrorKind::Busy),
//!     Duration::from_millis(3),
//! ));
//!
//! let snapshot = metrics.snapshot();
//! let instance = snapshot.instance(&endpoint, &model).ok_or("recorded above")?;
//! assert_eq!((instance.stats.requests, instance.stats.failures), (2, 1));
//! assert_eq!(instance.stats.errors["busy"], 1);
//! assert!(serde_json::to_string(&snapshot)?.contains("\"p95\""));
//!
//! let text = metrics.to_prometheus();
//! assert!(text.contains(
//!     "ollama_meta_errors_total{endpoint=\"gpu-box\",model=\"qwen2.5-coder:7b\",kind=\"busy\"} 1"
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod metrics;
mod record;
mod state;

pub mod buckets;
pub mod event;
mod histogram;
pub mod prometheus;
mod snapshot;

pub use event::{DEFAULT_EVENT_CAPACITY, Event};
pub use histogram::{Bucket, Distribution};
pub use metrics::{InFlight, Metrics};
pub use record::{BreakerState, BreakerTransition, Outcome, RequestRecord, TaskRecord, TaskStart};
pub use snapshot::{
    BreakerCounts, CategoryCounts, CategorySnapshot, EndpointLimit, InstanceSnapshot,
    ModelSnapshot, RequestStats, Snapshot, TaskStats,
};
