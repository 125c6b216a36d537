//! The client's own retry: off unless asked for.
//!
//! Inside the fleet every retry is an orchestrator attempt — it can fail
//! over to another endpoint, which a per-endpoint client cannot, and it
//! records and budgets each one — so the client retries nothing by default.
//! A stand-alone user of the client may turn on a [`RetryPolicy`]: the same
//! endpoint is sent the request again only when it cannot have done any
//! work ([`Error::is_resendable`]), after the workspace's one
//! [`Backoff`](om_core::Backoff), honouring `Retry-After`.
//!
//! [`Error::is_resendable`]: om_core::Error::is_resendable

use std::time::Duration;

use om_core::{BackoffPolicy, Jitter};

/// When and how often a call is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` disables retries.
    pub max_attempts: u32,
    /// The waits between them; a `Retry-After` header, when the server
    /// sends one, replaces the computed wait, capped at the policy's `max`.
    pub backoff: BackoffPolicy,
}

impl Default for RetryPolicy {
    /// [`NEVER`](Self::NEVER): the client retries nothing unless asked.
    fn default() -> Self {
        Self::NEVER
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NEVER: Self = Self {
        max_attempts: 1,
        backoff: BackoffPolicy {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: Jitter::None,
        },
    };

    /// Up to `max_attempts` attempts, 100 ms then doubling to at most 2 s,
    /// with random jitter.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            backoff: BackoffPolicy {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(2),
                jitter: Jitter::Random,
            },
        }
    }
}

/// Parses a `Retry-After` value given in seconds (`"2"`, `"0.5"`). The
/// HTTP-date form is ignored: Ollama never sends it and proxies rarely do.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn the_default_retries_nothing() {
        assert_eq!(RetryPolicy::default().max_attempts, 1);
        assert_eq!(RetryPolicy::attempts(3).max_attempts, 3);
    }
}
