//! Lifecycle events and their delivery over a bounded broadcast channel.
//!
//! Every change in the life of an agent or the size of the pool is an
//! [`Event`]. Events are sent while the pool's state lock is held, so they
//! arrive in the order the changes happened, across all agents. The channel
//! is bounded ([`Builder::event_capacity`](crate::Builder::event_capacity))
//! and never slows the pool down: a receiver that falls behind gets
//! [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged)
//! and skips ahead. With no receiver, no event is built.

use std::fmt;
use std::time::Duration;

use om_core::TaskId;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::placement::{AgentId, Placement};
use crate::quota::Quota;

/// Something that happened in the pool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened in the pool.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A new agent is ready.
    Spawned {
        /// The agent.
        agent: AgentId,
        /// Where it runs.
        placement: Placement,
        /// Why it was made.
        cause: SpawnCause,
    },
    /// Making an agent failed or was abandoned; its reserved slot is free again.
    SpawnFailed {
        /// The id the agent would have had.
        agent: AgentId,
        /// Where it would have run.
        placement: Placement,
        /// Why it was being made.
        cause: SpawnCause,
        /// The factory's error, or why the spawn was abandoned.
        error: String,
    },
    /// An agent was lent out.
    CheckedOut {
        /// The agent.
        agent: AgentId,
        /// The task it was lent for, if the request named one.
        task: Option<TaskId>,
        /// How long the checkout waited for it (zero when one was ready).
        waited: Duration,
    },
    /// An agent came back.
    CheckedIn {
        /// The agent.
        agent: AgentId,
        /// Runs made during this checkout.
        runs: u64,
        /// Runs that returned an error during this checkout.
        errors: u64,
        /// Tokens charged for this checkout.
        tokens: u64,
    },
    /// An agent was retired because of how it worked: after its task limit,
    /// after an error, unhealthy, or abandoned mid-run. A fresh agent takes
    /// its place when one is needed.
    Recycled {
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: RecycleReason,
    },
    /// An agent was ended because the pool no longer needed it.
    Killed {
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: KillReason,
    },
    /// The autoscaler raised the pool's target size because checkouts were
    /// waiting.
    ScaledUp {
        /// The target size before.
        from: usize,
        /// The target size after.
        to: usize,
        /// Checkouts waiting at that moment.
        waiters: usize,
    },
    /// The autoscaler ended agents that had been idle longer than the idle
    /// timeout (each also has its own [`Killed`](Self::Killed) event).
    ScaledDown {
        /// Agents before.
        from: usize,
        /// Agents after.
        to: usize,
    },
    /// A new agent could not be placed because a quota was full; the checkout
    /// waits. Sent once per waiting checkout.
    QuotaHit {
        /// The quota that was full.
        quota: Quota,
    },
    /// The pool's token budget is spent: checkouts now fail with
    /// [`CheckoutError::BudgetExhausted`](crate::CheckoutError::BudgetExhausted).
    /// Sent once.
    BudgetExhausted {
        /// Tokens used.
        used: u64,
        /// The budget.
        budget: u64,
    },
}

/// Why the pool made an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpawnCause {
    /// A checkout needed one and the pool had room.
    Demand,
    /// To keep the configured number of warm spares, or the minimum size.
    Spare,
    /// To bring back an agent listed in the saved state.
    Restore,
}

impl SpawnCause {
    /// `demand`, `spare` or `restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demand => "demand",
            Self::Spare => "spare",
            Self::Restore => "restore",
        }
    }
}

impl fmt::Display for SpawnCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an agent was recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecycleReason {
    /// It ran the configured number of tasks
    /// ([`Builder::recycle_after`](crate::Builder::recycle_after)).
    TaskLimit,
    /// A run returned an error and
    /// [`Builder::recycle_on_error`](crate::Builder::recycle_on_error) is on.
    Error,
    /// [`Agent::is_healthy`](crate::Agent::is_healthy) said no.
    Unhealthy,
    /// Its run was dropped half-way (the caller was cancelled).
    Abandoned,
    /// The caller asked for it with [`PooledAgent::retire`](crate::PooledAgent::retire).
    Retired,
}

impl RecycleReason {
    /// A short stable name: `task_limit`, `error`, `unhealthy`, `abandoned`, `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskLimit => "task_limit",
            Self::Error => "error",
            Self::Unhealthy => "unhealthy",
            Self::Abandoned => "abandoned",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for RecycleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an agent was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillReason {
    /// Idle longer than the idle timeout while the pool had more than it
    /// needed.
    IdleTimeout,
    /// Idle, at the wrong placement, and in the way of a checkout that needed
    /// its slot (the pool's size or a quota was full).
    Evicted,
    /// The pool was closed.
    Closed,
}

impl KillReason {
    /// A short stable name: `idle_timeout`, `evicted`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdleTimeout => "idle_timeout",
            Self::Evicted => "evicted",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for KillReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sending side of the event channel.
#[derive(Debug)]
pub(crate) struct Events {
    sender: broadcast::Sender<Event>,
}

impl Events {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { sender: broadcast::channel(capacity.max(1)).0 }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Builds the event with `make` and sends it, if anyone listens.
    pub(crate) fn emit(&self, make: impl FnOnce() -> EventKind) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        // No receiver left by now is fine: events are best effort.
        let _ = self.sender.send(Event { at: Instant::now(), kind: make() });
    }
}
