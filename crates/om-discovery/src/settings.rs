//! How often, how widely and how patiently discovery probes.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::{BackoffPolicy, Jitter};

use crate::error::Error;

/// The settings of [`Discovery`](crate::Discovery). Plain data; `om-config`'s
/// `[discovery]` section carries the same values.
///
/// A full probe of an endpoint asks `/api/version`, `/api/tags`, `/api/show`
/// for each model that is new, changed (another digest) or whose cached
/// details are older than [`show_cache_ttl`](Self::show_cache_ttl), and
/// `/api/ps`. Between two full probes only `/api/ps` is asked. An endpoint
/// that fails is probed again (fully) after an exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Time between two full probes of a healthy endpoint (default 30 s).
    pub interval: Duration,
    /// Time between two `/api/ps` probes of a healthy endpoint (default 5 s).
    pub ps_interval: Duration,
    /// Endpoints probed at once (default 16).
    pub concurrency: NonZeroUsize,
    /// The longest one request of a probe may take, connecting included
    /// (default 5 s). A probe that runs out is a `timeout` failure.
    pub probe_timeout: Duration,
    /// How long `/api/show` details are reused while the model's digest
    /// stays the same (default 10 min).
    pub show_cache_ttl: Duration,
    /// The wait before probing a failed endpoint again (default 1 s); it
    /// doubles with each further failure.
    pub backoff_initial: Duration,
    /// The longest wait between two probes of a failed endpoint
    /// (default 30 s).
    pub backoff_max: Duration,
    /// Events a slow subscriber may fall behind by before it misses some
    /// (default 1024).
    pub event_capacity: usize,
}

/// The default [`Settings::concurrency`].
const DEFAULT_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(16).expect("16 is not zero");

impl Default for Settings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            ps_interval: Duration::from_secs(5),
            concurrency: DEFAULT_CONCURRENCY,
            probe_timeout: Duration::from_secs(5),
            show_cache_ttl: Duration::from_mins(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }
}

impl Settings {
    /// The wait after the `failures`-th consecutive failure (1 for the
    /// first): `backoff_initial · 2^(failures-1)`, at most `backoff_max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use om_discovery::Settings;
    ///
    /// let settings = Settings::default();
    /// assert_eq!(settings.backoff(1), Duration::from_secs(1));
    /// assert_eq!(settings.backoff(3), Duration::from_secs(4));
    /// assert_eq!(settings.backoff(40), Duration::from_secs(30));
    /// ```
    pub fn backoff(&self, failures: u32) -> Duration {
        // Probes of one endpoint are sequential: nothing to spread, so no
        // jitter.
        BackoffPolicy { initial: self.backoff_initial, max: self.backoff_max, jitter: Jitter::None }
            .base(failures)
    }

    /// Checks the values a loop cannot run with.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let refuse = |why| Err(Error::InvalidSettings(why));
        if self.interval.is_zero() || self.ps_interval.is_zero() {
            return refuse("the probe intervals must be greater than 0");
        }
        if self.probe_timeout.is_zero() {
            return refuse("the probe timeout must be greater than 0");
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return refuse("the initial backoff must be greater than 0 and at most the maximum");
        }
        if self.event_capacity == 0 {
            return refuse("the event capacity must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    #[test]
    fn refuses_what_cannot_run() {
        let zero = Settings { ps_interval: Duration::ZERO, ..Settings::default() };
        assert!(zero.validate().unwrap_err().is_invalid_settings());
        let inverted = Settings { backoff_initial: Duration::from_mins(5), ..Settings::default() };
        assert!(inverted.validate().is_err());
        let deaf = Settings { event_capacity: 0, ..Settings::default() };
        assert!(deaf.validate().is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = Settings {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..Settings::default()
        };
        let waits: Vec<u128> = (1..=6).map(|n| settings.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(settings.backoff(u32::MAX), Duration::from_secs(1));
    }
}
