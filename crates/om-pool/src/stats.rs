//! A cheap count of the pool's agents and waiters.

/// The pool's numbers at one moment ([`Pool::stats`](crate::Pool::stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Agents that exist or are being made (not counting those being ended).
    pub agents: usize,
    /// Agents ready in the pool.
    pub idle: usize,
    /// Agents checked out.
    pub busy: usize,
    /// Agents being made by the factory.
    pub spawning: usize,
    /// Checkouts waiting for an agent.
    pub waiters: usize,
    /// Up to how many agents checkouts may spawn for themselves now.
    pub target: usize,
    /// Tokens charged to the budget so far.
    pub tokens_used: u64,
    /// The pool is closed.
    pub closed: bool,
}
