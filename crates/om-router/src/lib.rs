//! Routing for ollama-meta: given a request and the fleet as it is right
//! now, pick the model instance to send it to, with ranked fallbacks and an
//! explanation. Pure and fast: no I/O, no runtime, no allocation per
//! candidate.
//!
//! `om-router` sits above `om-registry` (whose [`Snapshot`](om_registry::Snapshot)
//! it reads), `om-config` (its `[routing]` settings) and `om-core`;
//! `om-orchestrator` uses it.
//!
//! - [`Router::route`]: eligibility filters (model pin or allow-list by name
//!   or family, capabilities, context window, tags and placement, health,
//!   breaker, cooldown) then a [`Strategy`], configured globally and per
//!   category ([`RouterConfig`], [`StrategyKind`]).
//! - Built-in strategies: [`CompletionTime`] (the default: expected wait,
//!   time to first token, a load if cold and the output at the measured
//!   speed; a choice may say to wait for a busy instance), [`RoundRobin`],
//!   [`LeastLoaded`], [`Random`], [`Performance`], [`Affinity`], [`Hybrid`]. Each respects endpoint
//!   weights and prefers instances whose model is loaded; a custom one
//!   plugs in with [`Router::with_strategy`].
//! - [`detect_category`]: the task category of a prompt, for requests that
//!   do not say.
//!
//! ## Large fleets
//!
//! Up to [`RouterConfig::exact_limit`] candidates (64 by default: the
//! instances of the selected models) a decision filters and ranks every
//! one. Above it, looking at each would cost 15–20 ns a candidate, so a
//! decision looks at a bounded number instead, as the strategy's
//! [`Sampling`] says:
//!
//! - cost-based strategies rank a random sample of at least 8 eligible
//!   candidates — the power of k choices (Mitzenmacher, *The Power of Two
//!   Choices in Randomized Load Balancing*, 2001): the best of a few random
//!   candidates spreads load almost as well as the best of all — which
//!   always holds the requested model's loaded instances when there are at
//!   most 4 (so the loaded-model preference is kept) and, for a request
//!   any model may serve, one instance of each model of a fleet of at most
//!   16 (so learned quality and speed, which are mostly per model, see
//!   every model);
//! - random draws by rejection sampling: a uniform candidate is kept with
//!   probability weight ÷ the highest weight, which gives exactly the
//!   weighted shares over the eligible instances;
//! - round-robin walks a weighted rotation, computed from a cursor per
//!   model selection rather than laid out: exact shares over a whole
//!   rotation, a turn due to an ineligible instance passing to the next
//!   eligible one.
//!
//! So a decision costs about the same at 100 instances as at 10,000 (under
//! a microsecond at 1,000 in `benches/route.rs`). It still never chooses or
//! ranks an ineligible instance; when the sample finds fewer eligible ones
//! than the decision ranks it filters every candidate, so an eligible
//! instance is never missed and a [`NoRoute`] always counts exactly. What
//! changes is visible: [`Why::sampled`] says the counts cover the sample
//! only, and the fallbacks come from the sample.
//!
//! The circuit breaker, the success window and learned affinity are live
//! state and live in `om-registry` ([`om_registry::Breaker`]): the
//! orchestrator reports outcomes there, and the router reads them through
//! the snapshot. One source of truth per fact.
//!
//! ```
//! use om_core::{Capability, Capabilities, EndpointId};
//! use om_registry::{Config, EndpointSpec, Health, ModelInfo, Registry};
//! use om_router::{RouteRequest, Router, RouterConfig, StrategyKind, detect_category};
//! use tokio::time::Instant;
//!
//! let registry = Registry::new(Config::default());
//! let id = EndpointId::new("gpu");
//! let mut edit = registry.edit();
//! edit.upsert_endpoint(EndpointSpec::new(id.clone(), "gpu-box".parse()?))?;
//! edit.set_health(&id, Health::Healthy)?;
//! let mut coder = ModelInfo::new("qwen2.5-coder:7b".parse()?);
//! coder.capabilities = Capabilities::of(&[Capability::Completion, Capability::Tools]);
//! coder.context_length = Some(32_768);
//! edit.replace_models(&id, vec![coder])?;
//! edit.publish();
//!
//! let config = RouterConfig { strategy: StrategyKind::LeastLoaded, ..RouterConfig::default() };
//! let router = Router::new(config);
//! let prompt = "write tests for the tokenizer";
//! let request = RouteRequest::any()
//!     .with_capabilities(Capabilities::of(&[Capability::Tools]))
//!     .with_tokens(om_router::estimate_tokens(prompt), Some(512))
//!     .with_category(detect_category(prompt));
//! let decision = router.route(&request, &registry.snapshot(), Instant::now())?;
//! assert_eq!(decision.why.strategy, "least_loaded");
//! assert_eq!(decision.why.category.as_str(), "testing");
//!
//! // Too big for the context window: refused, with the reason counted.
//! let huge = request.clone().with_tokens(40_000, None);
//! let refused = router.route(&huge, &registry.snapshot(), Instant::now()).unwrap_err();
//! assert_eq!(refused.why.removed.context, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod category;
mod config;
mod decision;
mod eligibility;
mod request;
mod router;
mod sampling;
mod state;
mod strategy;

pub use category::detect_category;
pub use config::{RouterConfig, StrategyKind, UnknownStrategy};
pub use decision::{Choice, Decision, NoRoute, Removed, Why};
pub use request::{ModelMatch, ModelSelector, RouteRequest, estimate_tokens};
pub use router::Router;
pub use strategy::{
    Affinity, Candidate, CompletionTime, Context, Hybrid, LeastLoaded, Performance, Random,
    RoundRobin, Sampling, Strategy, builtin, expected_service,
};
