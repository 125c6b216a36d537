//! Executes LLM tasks against a fleet of Ollama servers, and builds that
//! fleet from configuration.
//!
//! `om-orchestrator` is the composition root of the library. It sits above
//! `om-client`, `om-registry`, `om-router`, `om-metrics`, `om-discovery`,
//! `om-config` (and `om-core`) and wires them together; `om-dispatch`
//! workers, the `ollama-meta run` batch runner and the gateway call into it.
//!
//! - [`Fleet`]: the handle. [`Fleet::from_config`] builds the shared HTTP
//!   pool, one `om-client` client per endpoint, the [`Registry`] seeded with
//!   the configured endpoints, the [`Router`] with the configured strategy,
//!   the [`Metrics`], and returns the background [`Workers`] (discovery,
//!   which fills the catalog, and the forwarding of its events to the
//!   metrics' event stream);
//!   [`Fleet::builder`] ([`FleetBuilder`]) assembles one from explicit parts
//!   (a custom [`om_router::Strategy`], a registry shared with a test).
//! - [`Fleet::execute`] / [`Fleet::execute_with`]: one [`Task`] to its end →
//!   [`TaskResult`] or [`TaskFailure`], each with every [`Attempt`].
//! - [`Fleet::execute_stream`] / [`Fleet::execute_stream_with`]: one task as
//!   a [`TaskStream`] of chunks.
//! - [`Fleet::forward`] / [`Fleet::forward_to`]: a native request
//!   ([`Forward`]) sent as it came — its body unchanged, its answer as the
//!   instance's own lines ([`Forwarded`]) — with the same routing, permits,
//!   failover before the first line and recording; the gateway's path.
//! - [`Fleet::list_models`], [`Fleet::running_models`], [`Fleet::status`]:
//!   the union of the fleet's models and loaded models as Ollama lists them,
//!   and a JSON status document of every endpoint and instance.
//! - [`Options`]: an overall deadline, a deadline for the answer to begin
//!   (`start_by`), a bound on waiting for capacity ([`QueueLimit`]), a
//!   cancellation token and a [`Progress`] callback; [`Settings`]: the
//!   failover budget, backoff and its jitter seed, per-endpoint concurrency
//!   (fixed, or learned up to a ceiling), hedging and the default task
//!   deadline.
//!
//! # How a task runs
//!
//! Route on a fresh registry snapshot → take a permit of the endpoint (a
//! count per endpoint against its limit: learned from its answers when
//! [`Settings::adaptive_concurrency`] is on, up to its `max_concurrency`,
//! else that or [`Settings::max_concurrency`]) → `POST /api/chat` (always streamed, so
//! time to first token and progress are measured) → record the outcome in
//! the registry (moving averages, success rate, breaker; a cooldown for a
//! 503/429, honouring `Retry-After`) and the metrics → on a failure that
//! another instance may cure, fail over to the next-ranked instance within
//! the budget, after a jittered backoff, avoiding the endpoint that failed.
//!
//! - **Backpressure is not failure.** A 503 "server busy" or a 429 spends no
//!   budget; when every eligible instance is at its limit, cooling down or
//!   behind an open breaker, the task waits — for a permit to come back, a
//!   cooldown or breaker to expire, or the catalog to change — bounded by
//!   its deadline.
//! - **No route at all** (no endpoint has the model, or none can meet the
//!   task's requirements) fails at once with
//!   [`ErrorKind::NoBackend`](om_core::ErrorKind::NoBackend), naming the
//!   model and requirements — unless an endpoint has not been probed yet,
//!   in which case the task waits for discovery.
//! - **Never spliced.** [`Fleet::execute`] retries a stream that broke
//!   mid-way from scratch elsewhere and discards its partial output (the
//!   attempt is recorded); a [`TaskStream`] fails over only before its
//!   first chunk and afterwards ends with a typed error marked
//!   [partial](om_core::Error::is_partial).
//! - **Deadlines and cancellation.** A task's deadline is its own `timeout`
//!   (or [`Settings::task_timeout`]), bounded by [`Options::deadline`];
//!   passing it ends the task with a `Timeout(Total)` error. Dropping the
//!   future or the stream, or cancelling [`Options::cancel`], cancels it.
//!
//! Clients retry nothing themselves: every retry is an orchestrator attempt,
//! recorded in the registry and counted against one budget.
//!
//! ```no_run
//! use om_core::Task;
//! use om_orchestrator::Fleet;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = om_config::Loader::new().load()?.config;
//! let (fleet, workers) = Fleet::from_config(&config)?;
//! if let Some(report) = workers.probe_all().await {
//!     println!("{} endpoints up, {} down", report.up(), report.down());
//! }
//! let shutdown = CancellationToken::new();
//! let background = tokio::spawn(workers.run(shutdown.clone()));
//!
//! let result = fleet.execute(&Task::new("t1", "Write a haiku about Rust.")).await?;
//! println!("{} on {} in {:?}: {}", result.model, result.endpoint, result.latency, result.output);
//!
//! shutdown.cancel();
//! background.await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Shutdown
//!
//! The library spawns nothing. [`Workers::run`] takes a
//! [`CancellationToken`](tokio_util::sync::CancellationToken): the caller
//! spawns it, cancels the token at shutdown and awaits it. Tasks are
//! futures of the caller: stop submitting, let the running ones finish (or
//! cancel them through [`Options::cancel`]), then drop the [`Fleet`].
//!
//! [`Registry`]: om_registry::Registry
//! [`Router`]: om_router::Router
//! [`Metrics`]: om_metrics::Metrics
//! [`Task`]: om_core::Task

mod backends;
mod call;
mod drive;
mod execute;
mod fleet;
mod forward;
mod job;
mod options;
mod permits;
mod race;
mod request;
mod result;
mod settings;
mod stream;
mod view;
mod workers;

pub use fleet::{Fleet, FleetBuilder};
pub use forward::{Forward, Forwarded, Operation};
pub use options::{Options, Progress, ProgressFn, QueueLimit};
pub use result::{Attempt, AttemptError, TaskFailure, TaskResult};
pub use settings::Settings;
pub use stream::TaskStream;
pub use workers::Workers;
