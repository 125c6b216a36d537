//! The `[orchestrator]` section: how requests are spread over the fleet and
//! how long a task may take.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Settings of the request path above one endpoint.
///
/// ```toml
/// [orchestrator]
/// endpoint_concurrency = 4  # where a learned limit starts (or the limit)
/// adaptive_concurrency = true   # learn each endpoint's limit
/// max_endpoint_concurrency = 64 # its ceiling without max_concurrency
/// task_timeout = "10m"    # for tasks that set no timeout; default: none
/// seed = 7                # reproducible backoff jitter; default: random
/// hedge = true            # second attempt of a straggling batch task
/// ```
///
/// Failover follows `[retry]`: `max_attempts` attempts in all across the
/// fleet, with its backoff between them; `retry_on_busy = false` makes a
/// fleet that is busy everywhere fail at once instead of waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Orchestrator {
    /// Requests sent to one endpoint at once when its `[[endpoints]]` entry
    /// sets no `max_concurrency`, or with `adaptive_concurrency` where the
    /// learned limit starts (default 4, the `OLLAMA_NUM_PARALLEL` Ollama
    /// picks when memory allows; the learned limit finds the real one, and
    /// a fixed limit above it only queues requests inside the server,
    /// where they can no longer fail over).
    pub endpoint_concurrency: NonZeroUsize,
    /// Learn each endpoint's limit (default on): it grows while answers
    /// stay within twice the instance's best time per token with the limit
    /// in use, eases by one between twice and three times, is cut (at most
    /// halved) past three times, is halved on 503 busy or 429, and drops by
    /// one when a request waited inside the server for a slot. An
    /// endpoint's `max_concurrency` is then its ceiling.
    pub adaptive_concurrency: bool,
    /// The ceiling of a learned limit for endpoints without
    /// `max_concurrency` (default 64).
    pub max_endpoint_concurrency: NonZeroUsize,
    /// The deadline of a task that sets no `timeout` of its own, all attempts
    /// and waits included; `None` means no deadline.
    #[serde(with = "crate::duration::option")]
    pub task_timeout: Option<Duration>,
    /// Seeds the backoff jitter, for reproducible runs; `None` draws a seed
    /// from the operating system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Whether a batch task running on a slow instance may be started a
    /// second time on an idle endpoint that would finish it well before, when no
    /// task waits for capacity (default on). The first answer wins and the
    /// other attempt is stopped; a request forwarded by the gateway is never
    /// hedged.
    pub hedge: bool,
}

impl Default for Orchestrator {
    fn default() -> Self {
        Self {
            endpoint_concurrency: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            adaptive_concurrency: true,
            max_endpoint_concurrency: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
            task_timeout: None,
            seed: None,
            hedge: true,
        }
    }
}

impl Orchestrator {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        out.require(
            self.task_timeout.is_none_or(|t| !t.is_zero()),
            || at.key("task_timeout"),
            "must be greater than 0",
        );
    }
}
