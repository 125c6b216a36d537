//! The `[timeouts]` section: how long each phase of a request may take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Per-phase request timeouts.
///
/// `first_byte` is generous by default because the first request to a model
/// that is not loaded waits for the load, which takes tens of seconds for a
/// large model on a slow disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    #[serde(with = "crate::duration")]
    pub connect: Duration,
    /// From sending the request to the first byte of the response, model load
    /// included.
    #[serde(with = "crate::duration")]
    pub first_byte: Duration,
    /// The longest silence between two chunks of a streaming response.
    #[serde(with = "crate::duration")]
    pub idle: Duration,
    /// The whole request, end to end; `None` means no overall limit.
    #[serde(with = "crate::duration::option")]
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_mins(2),
            idle: Duration::from_mins(1),
            total: None,
        }
    }
}

impl Timeouts {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        // A zero timeout would fail every request at once.
        const POSITIVE: &str = "must be greater than 0";
        out.require(!self.connect.is_zero(), || at.key("connect"), POSITIVE);
        out.require(!self.first_byte.is_zero(), || at.key("first_byte"), POSITIVE);
        out.require(!self.idle.is_zero(), || at.key("idle"), POSITIVE);
        out.require(self.total.is_none_or(|t| !t.is_zero()), || at.key("total"), POSITIVE);
    }
}
