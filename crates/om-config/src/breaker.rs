//! The `[breaker]` section: when an instance's circuit breaker opens, how
//! long it stays open, and how it closes again.

use std::time::Duration;

use om_core::format_duration;
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Circuit-breaker settings of every instance (`om_registry::BreakerConfig`,
/// same field names).
///
/// The breaker opens after `failure_threshold` consecutive faults, or when
/// `failure_ratio` of the last `ratio_window` outcomes failed (once there
/// are `ratio_min_requests`); stays open `open_timeout`, doubling with each
/// consecutive trip up to `max_open_timeout`; then admits
/// `half_open_probes` probes at a time and closes after `close_after`
/// successes. Backpressure (503 "server busy", 429) never trips it.
///
/// ```toml
/// [breaker]
/// failure_threshold = 5
/// failure_ratio = 0.5
/// ratio_window = 20
/// ratio_min_requests = 10
/// open_timeout = "30s"
/// max_open_timeout = "5m"
/// half_open_probes = 2
/// close_after = 3
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Breaker {
    /// Consecutive faults that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// Share of faults in the window that opens it (greater than 0, at
    /// most 1).
    pub failure_ratio: f64,
    /// Recent outcomes the ratio looks at (at least 1).
    pub ratio_window: u32,
    /// Outcomes the window needs before the ratio counts (at least 1, at
    /// most `ratio_window`).
    pub ratio_min_requests: u32,
    /// How long the breaker stays open after its first trip (above 0).
    #[serde(with = "crate::duration")]
    pub open_timeout: Duration,
    /// The cap on the open time, which doubles with each consecutive trip
    /// (at least `open_timeout`).
    #[serde(with = "crate::duration")]
    pub max_open_timeout: Duration,
    /// Probes admitted at a time while half-open (at least 1).
    pub half_open_probes: u32,
    /// Probe successes that close the breaker (at least 1).
    pub close_after: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            failure_ratio: 0.5,
            ratio_window: 20,
            ratio_min_requests: 10,
            open_timeout: Duration::from_secs(30),
            max_open_timeout: Duration::from_mins(5),
            half_open_probes: 2,
            close_after: 3,
        }
    }
}

impl Breaker {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        const AT_LEAST_1: &str = "must be at least 1";
        out.require(self.failure_threshold >= 1, || at.key("failure_threshold"), AT_LEAST_1);
        out.require(
            self.failure_ratio > 0.0 && self.failure_ratio <= 1.0,
            || at.key("failure_ratio"),
            "must be greater than 0 and at most 1",
        );
        out.require(self.ratio_window >= 1, || at.key("ratio_window"), AT_LEAST_1);
        if self.ratio_min_requests == 0 {
            out.push(at.key("ratio_min_requests"), AT_LEAST_1);
        } else if self.ratio_min_requests > self.ratio_window {
            out.push(
                at.key("ratio_min_requests"),
                format!(
                    "{} is more than {} = {}: the ratio rule could never apply",
                    self.ratio_min_requests,
                    at.key("ratio_window"),
                    self.ratio_window
                ),
            );
        }
        out.require(
            !self.open_timeout.is_zero(),
            || at.key("open_timeout"),
            "must be greater than 0",
        );
        if self.open_timeout > self.max_open_timeout {
            out.push(
                at.key("open_timeout"),
                format!(
                    "{} is longer than {} = {}",
                    format_duration(self.open_timeout),
                    at.key("max_open_timeout"),
                    format_duration(self.max_open_timeout)
                ),
            );
        }
        out.require(self.half_open_probes >= 1, || at.key("half_open_probes"), AT_LEAST_1);
        out.require(self.close_after >= 1, || at.key("close_after"), AT_LEAST_1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bound_is_checked() {
        let mut out = Findings::default();
        Breaker::default().check(&KeyPath::root().key("breaker"), &mut out);
        assert_eq!(out.into_vec(), vec![]);

        let bad = Breaker {
            failure_threshold: 0,
            failure_ratio: 1.5,
            ratio_window: 5,
            ratio_min_requests: 6,
            open_timeout: Duration::from_mins(10),
            half_open_probes: 0,
            close_after: 0,
            ..Breaker::default()
        };
        let mut out = Findings::default();
        bad.check(&KeyPath::root().key("breaker"), &mut out);
        let found: Vec<String> =
            out.into_vec().iter().map(|f| format!("{}: {}", f.path, f.message)).collect();
        assert_eq!(
            found,
            [
                "breaker.failure_threshold: must be at least 1",
                "breaker.failure_ratio: must be greater than 0 and at most 1",
                "breaker.ratio_min_requests: 6 is more than breaker.ratio_window = 5: the ratio rule could never apply",
                "breaker.open_timeout: 10m is longer than breaker.max_open_timeout = 5m",
                "breaker.half_open_probes: must be at least 1",
                "breaker.close_after: must be at least 1",
            ]
        );
    }
}
