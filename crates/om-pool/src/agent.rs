//! The two seams of the pool: an [`Agent`] runs tasks, an [`AgentFactory`]
//! makes agents.

use std::future::Future;

use crate::placement::{AgentId, Placement};

/// A long-lived worker the pool hands out: a chat session that keeps its
/// history, an Aider process bound to a worktree, a test double.
///
/// The pool owns each agent and lends it to one caller at a time through a
/// [`PooledAgent`](crate::PooledAgent), so [`run`](Self::run) takes
/// `&mut self` and an agent needs no locking of its own. The pool decides
/// where an agent runs (its [`Placement`], given to the factory) and keeps
/// that itself; the agent does not have to report it.
///
/// # Contract
///
/// - [`is_healthy`](Self::is_healthy) is asked when the agent is checked out
///   and when it is checked in; an unhealthy agent is recycled (dropped and
///   replaced by a fresh one on demand). It must be cheap and must not block.
/// - [`tokens_used`](Self::tokens_used) is the agent's running total since
///   it was made; the pool charges the increase after every run to the pool's
///   token budget, whether the run succeeded or not.
/// - Dropping the agent ends it. Anything it holds that outlives a plain drop
///   (a child process) must be tied to the drop: for a
///   `tokio::process::Child`, set `kill_on_drop(true)`. The pool drops an
///   agent outside its lock and only then frees the agent's quota slot, so
///   at no instant do more agents exist than the quotas allow.
/// - A run whose future is dropped half-way (the caller was cancelled) leaves
///   the agent in an unknown state; the pool recycles it.
///
/// # Examples
///
/// ```
/// use om_pool::Agent;
///
/// /// Keeps a conversation and answers with its length.
/// #[derive(Default)]
/// struct Session {
///     history: Vec<String>,
///     tokens: u64,
/// }
///
/// impl Agent for Session {
///     type Task = String;
///     type Output = usize;
///     type Error = std::convert::Infallible;
///
///     async fn run(&mut self, prompt: String) -> Result<usize, Self::Error> {
///         self.tokens += prompt.split_whitespace().count() as u64;
///         self.history.push(prompt);
///         Ok(self.history.len())
///     }
///
///     fn tokens_used(&self) -> u64 {
///         self.tokens
///     }
/// }
/// ```
pub trait Agent: Send + 'static {
    /// What one run takes.
    type Task: Send;
    /// What a successful run produces.
    type Output: Send;
    /// What a failed run produces.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs one task.
    fn run(
        &mut self,
        task: Self::Task,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// False once the agent cannot be trusted with another task (its process
    /// died, its session broke). Defaults to true.
    fn is_healthy(&self) -> bool {
        true
    }

    /// Tokens this agent has used since it was made (prompt and output
    /// together). Defaults to 0 for agents that do not count.
    fn tokens_used(&self) -> u64 {
        0
    }
}

/// Makes agents for the pool.
///
/// The pool calls [`spawn`](Self::spawn) outside its lock, from a checkout
/// that needs an agent or from the maintenance worker ([`Pool::run`]) when
/// it keeps spares ready, meets the minimum size or restores saved agents.
/// Several spawns may run at once. A spawn future may be dropped before it
/// completes (the checkout was cancelled, the pool shut down); it should
/// leave nothing behind when it is.
///
/// [`Pool::run`]: crate::Pool::run
///
/// # Examples
///
/// ```
/// use om_pool::{Agent, AgentFactory, AgentId, Placement};
///
/// /// An agent that echoes its task, tagged with where it runs.
/// struct Echo(String);
///
/// impl Agent for Echo {
///     type Task = String;
///     type Output = String;
///     type Error = std::convert::Infallible;
///
///     async fn run(&mut self, task: String) -> Result<String, Self::Error> {
///         Ok(format!("{}: {task}", self.0))
///     }
/// }
///
/// struct Echoes;
///
/// impl AgentFactory for Echoes {
///     type Agent = Echo;
///     type Error = std::convert::Infallible;
///
///     async fn spawn(&self, id: AgentId, placement: &Placement) -> Result<Echo, Self::Error> {
///         Ok(Echo(format!("{id} on {placement}")))
///     }
/// }
/// ```
pub trait AgentFactory: Send + Sync + 'static {
    /// The agents it makes.
    type Agent: Agent;
    /// Why it could not make one.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Makes the agent `id` at `placement`.
    ///
    /// `id` is fresh for a new agent and the saved one for an agent restored
    /// from the state file, so an agent can name its logs or worktree by it.
    fn spawn(
        &self,
        id: AgentId,
        placement: &Placement,
    ) -> impl Future<Output = Result<Self::Agent, Self::Error>> + Send;
}
