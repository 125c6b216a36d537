//! The agent pool of ollama-meta: long-lived agents (a chat session that
//! keeps its history, an Aider process bound to a worktree) lent out one
//! task at a time, with a minimum and maximum size, autoscaling on queue
//! depth and idle time, warm spares, quotas per model and per endpoint, a
//! token budget, recycling, health checks and state saved to a file.
//!
//! `om-pool` depends only on `om-core` and is generic over the agent kind:
//! an [`Agent`] runs tasks, an [`AgentFactory`] makes agents for a
//! [`Placement`] (a model on an endpoint). It sits beside `om-dispatch` and
//! knows nothing of it: the dispatcher decides *what* runs next, the pool
//! decides *who* runs it. A composition crate (`om-aider`, the binary) joins
//! them with a few lines of [`Executor`](#with-the-dispatcher) adapter.
//!
//! - [`Pool`]: the cloneable handle. [`checkout`](Pool::checkout) lends an
//!   agent for a [`Request`] (any agent, a model, an endpoint or an exact
//!   placement, plus the task id) as a [`PooledAgent`];
//!   [`subscribe`](Pool::subscribe) delivers [`Event`]s;
//!   [`stats`](Pool::stats) and [`snapshot`](Pool::snapshot) observe;
//!   [`close`](Pool::close) stops it.
//! - [`PooledAgent`]: RAII. [`run`](PooledAgent::run) runs a task and
//!   records the outcome and tokens; dropping it (or
//!   [`finish`](PooledAgent::finish)) checks the agent back in.
//! - [`Pool::run`]: the maintenance worker (autoscaling, spares, idle kills,
//!   restores, saving).
//! - [`Builder`]: every setting, with defaults `DEFAULT_*`.
//! - [`Snapshot`]: the saved state; [`CheckoutError`], [`StateError`] and
//!   [`BuildError`] are the typed errors.
//!
//! ```
//! use std::time::Duration;
//!
//! use om_pool::{Agent, AgentFactory, AgentId, Placement, Pool, Request};
//! use tokio_util::sync::CancellationToken;
//!
//! /// A chat session: keeps its history and counts tokens.
//! #[derive(Default)]
//! struct Session {
//!     history: Vec<String>,
//!     tokens: u64,
//! }
//!
//! impl Agent for Session {
//!     type Task = String;
//!     type Output = usize;
//!     type Error = std::convert::Infallible;
//!
//!     async fn run(&mut self, prompt: String) -> Result<usize, Self::Error> {
//!         self.tokens += prompt.split_whitespace().count() as u64;
//!         self.history.push(prompt);
//!         Ok(self.history.len())
//!     }
//!
//!     fn tokens_used(&self) -> u64 {
//!         self.tokens
//!     }
//! }
//!
//! struct Sessions;
//!
//! impl AgentFactory for Sessions {
//!     type Agent = Session;
//!     type Error = std::convert::Infallible;
//!
//!     async fn spawn(&self, _id: AgentId, _at: &Placement) -> Result<Session, Self::Error> {
//!         Ok(Session::default())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gpu = Placement::new("qwen2.5-coder".parse()?, "gpu");
//! let pool = Pool::builder(Sessions)
//!     .min(1)
//!     .max(4)
//!     .spares(1)
//!     .placement(gpu.clone())
//!     .endpoint_quota("gpu", 3)
//!     .token_budget(1_000)
//!     .idle_timeout(Duration::from_secs(30))
//!     .build()?;
//! let shutdown = CancellationToken::new();
//! let maintenance = tokio::spawn(pool.clone().run(shutdown.clone()));
//!
//! let mut agent = pool.checkout(Request::any().with_task("fix-1")).await?;
//! assert_eq!(agent.placement(), &gpu);
//! assert_eq!(agent.run("fix the parser".to_owned()).await?, 1);
//! assert_eq!(agent.run("now add a test".to_owned()).await?, 2); // same session
//! drop(agent); // back to the pool
//! assert_eq!(pool.stats().tokens_used, 7);
//!
//! shutdown.cancel();
//! maintenance.await??;
//! assert!(pool.checkout(Request::any()).await.unwrap_err().is_closed());
//! # Ok(())
//! # }
//! ```
//!
//! # Sizes and autoscaling
//!
//! The pool never holds more than `max` agents (counting those being made
//! and being ended), and the maintenance worker keeps at least `min`. Beyond
//! that it keeps `spares` idle agents ready over those checked out (within
//! `max`), so a checkout usually finds one. A checkout with no idle agent
//! may make one for itself while the pool is below its *target*; otherwise
//! it waits, first in first served. The autoscaler raises the target to fit
//! the waiters once checkouts have waited for
//! [`scale_up_after`](Builder::scale_up_after), or at once when
//! [`scale_up_queue_depth`](Builder::scale_up_queue_depth) of them wait, so a
//! short burst is served by agents coming back rather than by new ones. Idle
//! agents beyond the minimum and the spares are killed after
//! [`idle_timeout`](Builder::idle_timeout), oldest first. Checkouts return
//! the most recently used idle agent, so the rest age out.
//!
//! # Quotas and budget
//!
//! Quotas cap the agents per model and per endpoint. New agents go to the
//! configured placements that match the request, preferring the one with
//! the fewest agents; a checkout blocked only by a quota waits (and a
//! [`QuotaHit`](EventKind::QuotaHit) event says so); an idle agent at another
//! placement that stands in the way is evicted. Slots are reserved before
//! an agent is made and freed only after it is dropped, so no quota is ever
//! exceeded, not even for an instant. Agents report tokens
//! ([`Agent::tokens_used`]); once the pool's
//! [`token_budget`](Builder::token_budget) is spent, checkouts fail with
//! [`CheckoutError::BudgetExhausted`].
//!
//! # Lifecycle and health
//!
//! Agents are made by the factory (on demand, as spares, or to restore saved
//! ones), lent and returned, and recycled at check-in after
//! [`recycle_after`](Builder::recycle_after) runs, after a failed run, when
//! [`Agent::is_healthy`] says no (also checked at checkout), when a run was
//! abandoned half-way, or on request ([`PooledAgent::retire`]). Every change
//! is an [`Event`] on a bounded broadcast channel, in order.
//!
//! # State file
//!
//! With [`state_file`](Builder::state_file), the worker rewrites a JSON
//! [`Snapshot`] atomically (temporary file, fsync, rename) at most every
//! [`save_every`](Builder::save_every) while anything changes: every agent
//! with its placement, status (and task in flight) and counters, the tokens
//! used and the recent finished checkouts. Building a pool restores it:
//! counters carry on, saved agents are made again with their ids, and
//! [`Snapshot::interrupted`] on [`Pool::restored`] lists the tasks to
//! resubmit.
//!
//! # With the dispatcher
//!
//! The adapter a composition crate writes: each task checks out an agent,
//! runs on it, and the agent goes back when the future ends (or is
//! cancelled: an abandoned run recycles the agent).
//!
//! ```
//! use om_dispatch::{Context, Executor, TaskError};
//! use om_pool::{AgentFactory, CheckoutError, Pool, Request};
//! # use om_pool::{Agent, AgentId, Placement};
//! # struct Echo;
//! # impl Agent for Echo {
//! #     type Task = String;
//! #     type Output = String;
//! #     type Error = std::convert::Infallible;
//! #     async fn run(&mut self, task: String) -> Result<String, Self::Error> { Ok(task) }
//! # }
//! # struct Echoes;
//! # impl AgentFactory for Echoes {
//! #     type Agent = Echo;
//! #     type Error = std::convert::Infallible;
//! #     async fn spawn(&self, _: AgentId, _: &Placement) -> Result<Echo, Self::Error> { Ok(Echo) }
//! # }
//!
//! /// Runs each dispatched task on a pooled agent.
//! struct Pooled {
//!     pool: Pool<Echoes>,
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("no agent for the task")]
//! struct NoAgent(#[source] CheckoutError<std::convert::Infallible>);
//!
//! impl TaskError for NoAgent {
//!     fn kind_name(&self) -> &'static str {
//!         self.0.kind_name()
//!     }
//! }
//!
//! impl Executor for Pooled {
//!     type Payload = String;
//!     type Output = String;
//!     type Error = NoAgent;
//!     type Progress = ();
//!
//!     async fn execute(&self, task: String, cx: &Context<'_, ()>) -> Result<String, NoAgent> {
//!         let request = Request::any().with_task(cx.id().clone());
//!         let mut agent = self.pool.checkout(request).await.map_err(NoAgent)?;
//!         match agent.run(task).await {
//!             Ok(output) => Ok(output),
//!             Err(never) => match never {},
//!         }
//!     }
//! }
//! ```
//!
//! # Shutdown
//!
//! Cancel the token given to [`Pool::run`] and await it: the worker closes
//! the pool (checkouts, waiting ones included, fail with
//! [`CheckoutError::Closed`]; idle agents are dropped), abandons spawns in
//! progress, writes the state file a last time and returns. Agents still
//! checked out are dropped when they come back. [`Pool::close`] does the
//! same without the worker. The pool spawns nothing that outlives
//! [`Pool::run`]: spares are made in tasks it owns and awaits.

mod agent;
mod config;
mod error;
mod event;
mod placement;
mod pool;
mod pooled;
mod quota;
mod snapshot;
mod state;
mod stats;

pub use agent::{Agent, AgentFactory};
pub use config::{
    Builder, DEFAULT_EVENT_CAPACITY, DEFAULT_HISTORY, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX,
    DEFAULT_MIN, DEFAULT_SAVE_EVERY, DEFAULT_SCALE_UP_AFTER, DEFAULT_SCALE_UP_QUEUE_DEPTH,
    DEFAULT_SPARES,
};
pub use error::{BuildError, CheckoutError, StateError};
pub use event::{Event, EventKind, KillReason, RecycleReason, SpawnCause};
pub use placement::{AgentId, Placement, Request};
pub use pool::Pool;
pub use pooled::{Disposition, PooledAgent};
pub use quota::Quota;
pub use snapshot::{AgentRecord, AgentStatus, Finished, STATE_VERSION, Snapshot};
pub use stats::Stats;
