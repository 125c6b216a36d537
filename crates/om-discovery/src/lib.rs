//! Fleet discovery for ollama-meta: probes every Ollama endpoint with
//! bounded concurrency, keeps the `om-registry` catalog true (version,
//! health with the reason, models with their details, loaded models) and
//! broadcasts what changed.
//!
//! `om-discovery` sits above `om-core`, `om-config` (its `[discovery]`
//! settings), `om-client` and `om-registry`; `om-orchestrator` runs it beside the
//! request path and forwards its events to `om-metrics`, and the
//! `ollama-meta models` command uses its one-shot probe.
//!
//! - [`Discovery`]: built from the endpoints, [`Settings`], the shared
//!   hyper-util client and the [`Registry`](om_registry::Registry).
//!   [`Discovery::probe_all`] probes every endpoint once and returns a
//!   [`FleetReport`]; [`Discovery::run`] probes until shutdown.
//! - What a probe asks: `/api/version` (its round trip is the endpoint's
//!   probe latency), `/api/tags`, `/api/show` for models that are new, have
//!   another digest, or whose cached details are older than
//!   [`Settings::show_cache_ttl`], and `/api/ps`; between full probes
//!   (every [`Settings::interval`]) only `/api/ps` (every
//!   [`Settings::ps_interval`]).
//! - Health: a probe that fails marks the endpoint unhealthy with a reason
//!   (`connection refused`, `timeout: no answer from /api/version within
//!   5s`, `invalid response from /api/tags: …`, `/api/version answered 404:
//!   …`); it is probed again after an exponential backoff
//!   ([`Settings::backoff`]) until it answers.
//! - [`Event`]s — endpoint up/down, model added/removed/updated,
//!   loaded/unloaded — on a bounded broadcast channel
//!   ([`Discovery::subscribe`]).
//!
//! ```
//! use om_client::http_client;
//! use om_core::EndpointId;
//! use om_discovery::{Discovery, Event, Settings};
//! use om_registry::{Config, EndpointSpec, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = om_sim::spawn(om_sim::EndpointSpec::default());
//! let registry = Registry::new(Config::default());
//! let gpu = EndpointSpec::new(EndpointId::new("gpu"), sim.url().parse()?);
//! let discovery = Discovery::try_new(registry.clone(), &http_client(), vec![gpu], Settings::default())?;
//!
//! let report = discovery.probe_all().await;
//! assert!(report.is_any_up());
//! assert!(matches!(&report.events[0], Event::EndpointUp { version: Some(v), .. } if v == "0.33.0"));
//! let snapshot = registry.snapshot();
//! assert!(snapshot.endpoints()[0].health.is_healthy());
//! assert_eq!(snapshot.instances().len(), 4); // the simulator's default models
//! sim.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Shutdown
//!
//! [`Discovery::run`] is a future that returns when its
//! `CancellationToken` is cancelled; it spawns nothing, so awaiting it (or
//! dropping it) is all a caller has to do.

mod cache;
mod discovery;
mod error;
mod event;
mod probe;
mod reason;
mod report;
mod settings;
mod target;

pub use discovery::Discovery;
pub use error::Error;
pub use event::Event;
pub use report::{EndpointReport, FleetReport, ProbeStatus};
pub use settings::Settings;
