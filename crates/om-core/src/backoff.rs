//! The one backoff of the workspace: exponential, capped, with optional
//! "equal jitter" drawn from a seeded generator.
//!
//! The orchestrator waits it between two attempts of a request, discovery
//! between two probes of a dead endpoint, and a stand-alone client between
//! two sends it was asked to retry. The n-th wait (n = 1, 2, …) is
//! `initial · 2^(n-1)`, at most `max`; with jitter it is drawn uniformly from
//! the upper half of that, so callers that failed together spread out while
//! the wait still grows.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::rng::{GAMMA, mix};

/// How a [`Backoff`]'s waits are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// None: the wait doubles exactly.
    None,
    /// From a generator seeded by the operating system (different per
    /// [`Backoff`]).
    Random,
    /// From a generator with this seed, for reproducible runs and tests.
    Seeded(u64),
}

/// The shape of a backoff: plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How each wait is randomised.
    pub jitter: Jitter,
}

impl BackoffPolicy {
    /// The wait before retry number `retry` (1 for the first) without
    /// jitter: `initial · 2^(retry-1)`, at most `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use om_core::{BackoffPolicy, Jitter};
    ///
    /// let policy = BackoffPolicy {
    ///     initial: Duration::from_secs(1),
    ///     max: Duration::from_secs(30),
    ///     jitter: Jitter::None,
    /// };
    /// assert_eq!(policy.base(3), Duration::from_secs(4));
    /// assert_eq!(policy.base(40), Duration::from_secs(30));
    /// ```
    pub fn base(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// A [`BackoffPolicy`] with its jitter generator. Sequential draws from one
/// seed are reproducible; concurrent callers share the sequence without a
/// lock.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    /// splitmix64 state.
    state: AtomicU64,
}

impl Backoff {
    /// A backoff of `policy`.
    pub fn new(policy: BackoffPolicy) -> Self {
        let seed = match policy.jitter {
            Jitter::Seeded(seed) => seed,
            // RandomState is seeded from the OS per instance: enough to
            // spread callers that fail together, without another dependency.
            Jitter::Random | Jitter::None => RandomState::new().hash_one(0_u8),
        };
        Self { policy, state: AtomicU64::new(seed) }
    }

    /// Its policy.
    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// The wait before retry number `retry` (1 for the first).
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.policy.base(retry);
        if self.policy.jitter == Jitter::None {
            return base;
        }
        let half = base / 2;
        let span = u64::try_from(base.saturating_sub(half).as_nanos()).unwrap_or(u64::MAX);
        if span == 0 {
            return base;
        }
        let draw = mix(self.state.fetch_add(GAMMA, Ordering::Relaxed).wrapping_add(GAMMA));
        half + Duration::from_nanos(draw % span.saturating_add(1))
    }

    /// The wait before retry number `retry` when the server said how long
    /// to wait (`Retry-After`): its hint, at most the policy's `max`, else
    /// [`delay`](Self::delay).
    pub fn delay_after(&self, retry: u32, hint: Option<Duration>) -> Duration {
        match hint {
            Some(after) => after.min(self.policy.max),
            None => self.delay(retry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: Jitter) -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
            jitter,
        }
    }

    #[test]
    fn doubles_up_to_the_cap_without_jitter() {
        let b = Backoff::new(policy(Jitter::None));
        let waits: Vec<u128> = (1..=4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        assert_eq!(b.policy().base(u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_is_reproducible() {
        let a = Backoff::new(policy(Jitter::Seeded(7)));
        let b = Backoff::new(policy(Jitter::Seeded(7)));
        for retry in 1..=6 {
            let (x, y) = (a.delay(retry), b.delay(retry));
            assert_eq!(x, y);
            let base = a.policy().base(retry);
            assert!(x >= base / 2 && x <= base, "{x:?} outside [{:?}, {base:?}]", base / 2);
        }
        let sequence = |seed| {
            let b = Backoff::new(policy(Jitter::Seeded(seed)));
            (1..=6).map(|r| b.delay(r)).collect::<Vec<_>>()
        };
        assert_ne!(sequence(7), sequence(8));
    }

    #[test]
    fn a_server_hint_wins_but_is_capped() {
        let b = Backoff::new(policy(Jitter::Seeded(1)));
        assert_eq!(b.delay_after(1, Some(Duration::from_millis(300))), Duration::from_millis(300));
        assert_eq!(b.delay_after(1, Some(Duration::from_mins(1))), Duration::from_millis(350));
    }
}
