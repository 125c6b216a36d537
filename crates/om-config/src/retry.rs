//! The `[retry]` section: how often and how patiently a failed request is
//! tried again.

use std::time::Duration;

use om_core::format_duration;
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Retry policy for requests that fail before the first token.
///
/// Backoff grows from [`initial_backoff`](Self::initial_backoff) towards
/// [`max_backoff`](Self::max_backoff); with [`jitter`](Self::jitter) each
/// wait is randomised so that many clients do not retry in lockstep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// Attempts in total, the first included (at least 1; 1 means no retry).
    pub max_attempts: u32,
    /// The wait before the first retry.
    #[serde(with = "crate::duration")]
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (at least `initial_backoff`).
    #[serde(with = "crate::duration")]
    pub max_backoff: Duration,
    /// Randomise each wait.
    pub jitter: bool,
    /// Retry when an endpoint answers 503 "server busy" (its queue is full).
    pub retry_on_busy: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            jitter: true,
            retry_on_busy: true,
        }
    }
}

impl Retry {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        out.require(self.max_attempts >= 1, || at.key("max_attempts"), "must be at least 1");
        if self.initial_backoff > self.max_backoff {
            out.push(
                at.key("initial_backoff"),
                format!(
                    "{} is longer than {} = {}",
                    format_duration(self.initial_backoff),
                    at.key("max_backoff"),
                    format_duration(self.max_backoff)
                ),
            );
        }
    }
}
