//! The `[discovery]` section: how often and how widely the fleet is probed.

use std::time::Duration;

use om_core::format_duration;
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// How discovery probes the endpoints.
///
/// A full probe asks `/api/version`, `/api/tags`, `/api/show` (for models
/// that are new, changed or whose cached details are older than
/// [`show_cache_ttl`](Self::show_cache_ttl)) and `/api/ps`; between full
/// probes only `/api/ps` is asked, every [`ps_interval`](Self::ps_interval).
/// An endpoint that fails is retried after
/// [`backoff_initial`](Self::backoff_initial), doubling up to
/// [`backoff_max`](Self::backoff_max).
///
/// ```toml
/// [discovery]
/// interval = "30s"
/// ps_interval = "5s"
/// concurrency = 16
/// probe_timeout = "5s"
/// show_cache_ttl = "10m"
/// backoff_initial = "1s"
/// backoff_max = "30s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Discovery {
    /// Time between two full probes of a healthy endpoint.
    #[serde(with = "crate::duration")]
    pub interval: Duration,
    /// Time between two `/api/ps` probes of a healthy endpoint.
    #[serde(with = "crate::duration")]
    pub ps_interval: Duration,
    /// Endpoints probed at once (at least 1).
    pub concurrency: usize,
    /// The longest one probe request may take, connecting included.
    #[serde(with = "crate::duration")]
    pub probe_timeout: Duration,
    /// How long a model's `/api/show` details are reused while its digest
    /// stays the same.
    #[serde(with = "crate::duration")]
    pub show_cache_ttl: Duration,
    /// The wait before probing a failed endpoint again.
    #[serde(with = "crate::duration")]
    pub backoff_initial: Duration,
    /// The longest wait between two probes of a failed endpoint (at least
    /// `backoff_initial`).
    #[serde(with = "crate::duration")]
    pub backoff_max: Duration,
}

impl Default for Discovery {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            ps_interval: Duration::from_secs(5),
            concurrency: 16,
            probe_timeout: Duration::from_secs(5),
            show_cache_ttl: Duration::from_mins(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

impl Discovery {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        // A zero interval or timeout would probe in a busy loop or fail every
        // probe at once.
        const POSITIVE: &str = "must be greater than 0";
        out.require(!self.interval.is_zero(), || at.key("interval"), POSITIVE);
        out.require(!self.ps_interval.is_zero(), || at.key("ps_interval"), POSITIVE);
        out.require(self.concurrency >= 1, || at.key("concurrency"), "must be at least 1");
        out.require(!self.probe_timeout.is_zero(), || at.key("probe_timeout"), POSITIVE);
        out.require(!self.backoff_initial.is_zero(), || at.key("backoff_initial"), POSITIVE);
        if self.backoff_initial > self.backoff_max {
            out.push(
                at.key("backoff_initial"),
                format!(
                    "{} is longer than {} = {}",
                    format_duration(self.backoff_initial),
                    at.key("backoff_max"),
                    format_duration(self.backoff_max)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(discovery: &Discovery) -> Vec<String> {
        let mut out = Findings::default();
        discovery.check(&KeyPath::root().key("discovery"), &mut out);
        out.into_vec().iter().map(|f| format!("{}: {}", f.path, f.message)).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(findings(&Discovery::default()), Vec::<String>::new());
    }

    #[test]
    fn refuses_zeroes_and_an_inverted_backoff() {
        let discovery = Discovery {
            interval: Duration::ZERO,
            concurrency: 0,
            backoff_initial: Duration::from_mins(1),
            ..Discovery::default()
        };
        assert_eq!(
            findings(&discovery),
            [
                "discovery.interval: must be greater than 0",
                "discovery.concurrency: must be at least 1",
                "discovery.backoff_initial: 1m is longer than discovery.backoff_max = 30s",
            ]
        );
    }

    #[test]
    fn durations_read_as_text_or_seconds() {
        let discovery: Discovery =
            serde_json::from_str(r#"{"interval": "1m", "ps_interval": 2, "concurrency": 64}"#)
                .unwrap();
        assert_eq!(discovery.interval, Duration::from_mins(1));
        assert_eq!(discovery.ps_interval, Duration::from_secs(2));
        assert_eq!(discovery.concurrency, 64);
        assert_eq!(discovery.show_cache_ttl, Duration::from_mins(10));
    }
}
