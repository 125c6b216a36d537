//! The wait between two attempts of a task: exponential, capped, with
//! equal jitter from one seeded generator shared by the fleet.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use om_core::rng::{GAMMA, mix};

use crate::settings::Settings;

/// Draws backoff waits. Sequential draws from one seed are reproducible;
/// concurrent tasks share the sequence without a lock.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: bool,
    /// splitmix64 state.
    state: AtomicU64,
}

impl Backoff {
    pub(crate) fn new(settings: &Settings) -> Self {
        // RandomState is seeded from the OS per instance: enough to spread
        // fleets that fail together, without another dependency.
        let seed = settings.seed.unwrap_or_else(|| RandomState::new().hash_one(0_u8));
        Self {
            initial: settings.initial_backoff,
            max: settings.max_backoff,
            jitter: settings.jitter,
            state: AtomicU64::new(seed),
        }
    }

    /// The wait before retry number `retry` (1 for the first):
    /// `initial · 2^(retry-1)`, at most `max`; with jitter, drawn uniformly
    /// from the upper half of that.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        let base = self.initial.saturating_mul(factor).min(self.max);
        if !self.jitter {
            return base;
        }
        let half = base / 2;
        let span = u64::try_from(base.saturating_sub(half).as_nanos()).unwrap_or(u64::MAX);
        if span == 0 {
            return base;
        }
        let draw = mix(self.state.fetch_add(GAMMA, Ordering::Relaxed).wrapping_add(GAMMA));
        half + Duration::from_nanos(draw % (span + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(jitter: bool, seed: u64) -> Settings {
        Settings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            jitter,
            seed: Some(seed),
            ..Settings::default()
        }
    }

    #[test]
    fn doubles_up_to_the_cap_without_jitter() {
        let b = Backoff::new(&settings(false, 1));
        let waits: Vec<u128> = (1..=4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_is_reproducible() {
        let a = Backoff::new(&settings(true, 7));
        let b = Backoff::new(&settings(true, 7));
        for retry in 1..=6 {
            let (x, y) = (a.delay(retry), b.delay(retry));
            assert_eq!(x, y);
            let base =
                Duration::from_millis(100 * 2_u64.pow(retry - 1)).min(Duration::from_millis(350));
            assert!(x >= base / 2 && x <= base, "{x:?} outside [{:?}, {base:?}]", base / 2);
        }
        let sequence = |seed| {
            let b = Backoff::new(&settings(true, seed));
            (1..=6).map(|r| b.delay(r)).collect::<Vec<_>>()
        };
        assert_ne!(sequence(7), sequence(8));
    }
}
