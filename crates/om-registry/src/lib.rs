//! The fleet catalog and live per-instance state of ollama-meta: one source
//! of truth for what the fleet has and how each model instance is doing.
//!
//! `om-registry` sits above `om-core` and `om-config` (its settings are
//! om-config's `[routing]` and `[breaker]` sections, its endpoint specs the
//! configured endpoints). `om-discovery` writes the catalog, `om-router` reads snapshots,
//! `om-orchestrator` records outcomes, the `models` command displays it.
//!
//! - [`Registry`]: the handle. Readers take an immutable
//!   [`Snapshot`] (`Arc`, published through a `tokio::sync::watch`);
//!   writers [`edit`](Registry::edit) the catalog and get back the
//!   [`Change`]s they made.
//! - The catalog: [`Endpoint`]s ([`EndpointSpec`], [`Health`], version) and
//!   [`Instance`]s — one [`ModelInfo`] on one endpoint, [`Loaded`] or not —,
//!   indexed by endpoint, model, family and tag, with the [`RouteFacts`] the
//!   router filters on packed in one dense array.
//! - Live state, shared by successive snapshots and updated without
//!   rebuilding them: [`InstanceLive`] (in flight, latency / TTFT /
//!   tokens-per-second moving averages with cold loads excluded, success
//!   rate, [`Breaker`], cooldown), [`EndpointLive`] and [`ModelLive`]
//!   (learned [`Affinity`] per task category).
//! - Requests: [`Instance::begin`] returns an [`InFlight`] guard (counted in
//!   flight until dropped; the breaker's half-open probes are handed out
//!   here), and [`InFlight::finish`] records the [`Outcome`].
//!
//! Time is `tokio::time::Instant`, always passed in, so tests run on paused
//! time.
//!
//! ```
//! use std::time::Duration;
//! use om_core::{EndpointId, ModelName};
//! use om_registry::{Config, EndpointSpec, Health, ModelInfo, Outcome, Registry};
//! use tokio::time::Instant;
//!
//! let registry = Registry::new(Config::default());
//! let gpu = EndpointId::new("gpu");
//! let mut edit = registry.edit();
//! edit.upsert_endpoint(EndpointSpec::new(gpu.clone(), "gpu-box".parse()?))?;
//! edit.set_health(&gpu, Health::Healthy)?;
//! edit.replace_models(&gpu, vec![ModelInfo::new("llama3.2".parse()?)])?;
//! let changes = edit.publish();
//! assert_eq!(changes.len(), 3); // endpoint added, up, model added
//!
//! let snapshot = registry.snapshot();
//! let model: ModelName = "llama3.2:latest".parse()?;
//! let index = snapshot.find_instance(&gpu, &model).expect("just added");
//! let request = snapshot.instance(index).begin(Instant::now())?;
//! assert_eq!(snapshot.instance(index).live.in_flight(), 1);
//! request.finish(&Outcome::success().with_latency(Duration::from_millis(800)), Instant::now());
//! assert_eq!(snapshot.instance(index).live.stats().latency, Some(Duration::from_millis(800)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod breaker;
mod catalog;
mod change;
mod clock;
mod config;
mod endpoint;
mod error;
mod ewma;
mod instance;
mod limit;
mod live;
mod model;
mod outcome;
mod registry;
mod snapshot;
mod tags;
mod work;

pub use breaker::{Admission, Breaker, BreakerConfig, BreakerState, Probe, Transition};
pub use change::Change;
pub use clock::Ticks;
pub use config::Config;
pub use endpoint::{Endpoint, EndpointLive, EndpointSpec, Health};
pub use error::{Error, Result};
pub use instance::{EndpointIdx, Instance, InstanceId, InstanceIdx, ModelIdx, RouteFacts};
pub use limit::{LimitConfig, LimitReason, Limiter};
pub use live::{
    Affinity, InFlight, InstanceLive, LiveStats, LiveView, ModelLive, Recorded, Rejected,
};
pub use model::{Loaded, LoadedModel, ModelInfo, parse_parameter_count};
pub use outcome::{Outcome, Verdict};
pub use registry::{Edit, Registry};
pub use snapshot::{FleetModel, Snapshot};
pub use tags::TagSet;
pub use work::{Hold, Ticket};
