//! The `[limits]` section: how much of an answer is held in memory, so that
//! what a backend sends cannot set the process's memory.

use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Size limits on what endpoints send back.
///
/// ```toml
/// [limits]
/// max_line_bytes = 16777216    # one streamed line (16 MiB)
/// max_answer_bytes = 67108864  # one whole answer held at once (64 MiB)
/// ```
///
/// A longer line or a larger answer fails the request (a protocol error
/// naming the endpoint) instead of growing a buffer without end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The longest line of a streamed (NDJSON) answer, in bytes.
    pub max_line_bytes: u64,
    /// The largest answer that is read whole (one that does not stream,
    /// and the gateway's non-streamed `/v1` answers), in bytes.
    pub max_answer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_line_bytes: 16 * 1024 * 1024, max_answer_bytes: 64 * 1024 * 1024 }
    }
}

impl Limits {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        const POSITIVE: &str = "must be greater than 0";
        out.require(self.max_line_bytes > 0, || at.key("max_line_bytes"), POSITIVE);
        out.require(self.max_answer_bytes > 0, || at.key("max_answer_bytes"), POSITIVE);
        out.require(
            self.max_line_bytes <= self.max_answer_bytes,
            || at.key("max_line_bytes"),
            "must be at most limits.max_answer_bytes",
        );
    }
}
