//! How often, how widely and how patiently discovery probes.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::{BackoffPolicy, Jitter};

use crate::error::Error;

/// The settings of [`Discovery`](crate::Discovery): plain data, taken from
/// `om-config`'s `[discovery]` section, where the defaults live.
///
/// A full probe of an endpoint asks `/api/version`, `/api/tags`, `/api/show`
/// for each model that is new, changed (another digest) or whose cached
/// details are older than [`show_cache_ttl`](Self::show_cache_ttl), and
/// `/api/ps`. Between two full probes only `/api/ps` is asked. An endpoint
/// that fails is probed again (fully) after an exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Time between two full probes of a healthy endpoint.
    pub interval: Duration,
    /// Time between two `/api/ps` probes of a healthy endpoint.
    pub ps_interval: Duration,
    /// Endpoints probed at once.
    pub concurrency: NonZeroUsize,
    /// The longest one request of a probe may take, connecting included.
    /// A probe that runs out is a `timeout` failure.
    pub probe_timeout: Duration,
    /// How long `/api/show` details are reused while the model's digest
    /// stays the same.
    pub show_cache_ttl: Duration,
    /// The wait before probing a failed endpoint again; it
    /// doubles with each further failure.
    pub backoff_initial: Duration,
    /// The longest wait between two probes of a failed endpoint.
    pub backoff_max: Duration,
    /// Events a slow subscriber may fall behind by before it misses some.
    pub event_capacity: usize,
}

/// Events a slow subscriber may fall behind by.
const EVENT_CAPACITY: usize = 1024;

impl From<&om_config::Discovery> for Settings {
    fn from(section: &om_config::Discovery) -> Self {
        Self {
            interval: section.interval,
            ps_interval: section.ps_interval,
            // om-config refuses 0.
            concurrency: NonZeroUsize::new(section.concurrency).unwrap_or(NonZeroUsize::MIN),
            probe_timeout: section.probe_timeout,
            show_cache_ttl: section.show_cache_ttl,
            backoff_initial: section.backoff_initial,
            backoff_max: section.backoff_max,
            event_capacity: EVENT_CAPACITY,
        }
    }
}

impl Default for Settings {
    /// om-config's `[discovery]` defaults, and room for 1024 events.
    fn default() -> Self {
        Self::from(&om_config::Discovery::default())
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
