//! The retry policy: exponential backoff with optional, seedable jitter.
//!
//! The client retries only what cannot have done any work upstream: a failed
//! connect (including a connect timeout), Ollama's 503 `server busy` and a
//! 429 — and only before any byte of a response body has been consumed.
//! Everything else is the orchestrator's business: it can fail over to
//! another endpoint, which a per-endpoint client cannot.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use om_core::{Error, ErrorKind, TimeoutPhase, rng};

/// How jitter is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// No jitter: the backoff doubles exactly.
    None,
    /// Jitter from a generator seeded by the OS (different per client).
    Random,
    /// Jitter from a generator with this seed, for reproducible tests.
    Seeded(u64),
}

/// When and how often a call is retried.
///
/// The n-th retry (n = 1, 2, …) waits `initial_backoff · 2^(n-1)`, capped at
/// `max_backoff`. With jitter the wait is drawn uniformly from the upper half
/// of that value ("equal jitter"), so clients that failed together spread out
/// while the wait still grows. A `Retry-After` header, when the server sends
/// one, replaces the computed wait, capped at `max_backoff` as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` disables retries.
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How the wait is randomised.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms then 200 ms (with random jitter), at most 2 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            jitter: Jitter::Random,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NEVER: Self = Self {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        jitter: Jitter::None,
    };

    /// The wait before retry number `retry` (1 for the first retry) without
    /// jitter or `Retry-After`.
    pub fn base_backoff(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// True when `error`, raised before any body byte was consumed, may be
    /// retried on the same endpoint.
    pub fn is_retryable(error: &Error) -> bool {
        matches!(
            error.kind(),
            ErrorKind::Connect
                | ErrorKind::Timeout(TimeoutPhase::Connect)
                | ErrorKind::Busy
                | ErrorKind::RateLimited
        ) && !error.is_partial()
    }
}

/// The live side of a [`RetryPolicy`]: the jitter generator's state.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    /// splitmix64 state; atomic so that concurrent calls can draw without a
    /// lock (sequential draws from one seed are reproducible).
    state: AtomicU64,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        let seed = match policy.jitter {
            Jitter::Seeded(seed) => seed,
            // RandomState is seeded from the OS per instance: good enough to
            // de-synchronise clients, and needs no extra dependency.
            Jitter::Random | Jitter::None => RandomState::new().hash_one(0_u8),
        };
        Self { policy, state: AtomicU64::new(seed) }
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wait before retry number `retry`, given the server's hint.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.policy.max_backoff);
        }
        let base = self.policy.base_backoff(retry);
        match self.policy.jitter {
            Jitter::None => base,
            Jitter::Random | Jitter::Seeded(_) => {
                let half = base / 2;
                let span = base.saturating_sub(half).as_nanos() as u64;
                let offset = if span == 0 { 0 } else { self.next_u64() % (span + 1) };
                half + Duration::from_nanos(offset)
            }
        }
    }

    /// splitmix64 over an atomic state (see `om_core::rng`).
    fn next_u64(&self) -> u64 {
        let state = self.state.fetch_add(rng::GAMMA, Ordering::Relaxed).wrapping_add(rng::GAMMA);
        rng::mix(state)
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

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff::new(policy(Jitter::None));
        let waits: Vec<_> = (1..=6).map(|n| b.delay(n, None).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.policy().base_backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_is_reproducible() {
        let a = Backoff::new(policy(Jitter::Seeded(7)));
        let b = Backoff::new(policy(Jitter::Seeded(7)));
        for n in 1..=8 {
            let base = a.policy().base_backoff(n);
            let wait = a.delay(n, None);
            assert!(wait >= base / 2 && wait <= base, "{n}: {wait:?} vs {base:?}");
            assert_eq!(wait, b.delay(n, None));
        }
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let b = Backoff::new(policy(Jitter::Seeded(1)));
        assert_eq!(b.delay(1, Some(Duration::from_millis(300))), Duration::from_millis(300));
        assert_eq!(b.delay(1, Some(Duration::from_mins(1))), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn only_work_free_failures_are_retryable() {
        assert!(RetryPolicy::is_retryable(&Error::from_status(503, "server busy")));
        assert!(RetryPolicy::is_retryable(&Error::from_status(429, "slow down")));
        assert!(RetryPolicy::is_retryable(&Error::new(ErrorKind::Connect, "refused")));
        assert!(!RetryPolicy::is_retryable(&Error::from_status(500, "boom")));
        assert!(!RetryPolicy::is_retryable(&Error::new(
            ErrorKind::Timeout(TimeoutPhase::FirstByte),
            "slow"
        )));
        assert!(!RetryPolicy::is_retryable(
            &Error::from_status(503, "server busy").with_partial(true)
        ));
    }
}
