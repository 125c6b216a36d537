//! [`line_end`]: whether a line of a native answer ends it — the final
//! `done: true` line with its metrics, or an `{"error": …}` line — read
//! cheaply enough to run on every line a gateway passes through.

use serde::Deserialize;

use crate::wire::Metrics;
use crate::wire::common::with_metrics;

/// What a line says about the end of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEnd {
    /// The `done: true` line, with its metrics.
    Done(Metrics),
    /// An `{"error": …}` line (the text, or an object's `message`).
    Error(String),
}

/// Reads a line only when it may end the answer: one with `"done":true`,
/// or one without a `done` key that has an `"error"` key. The byte search
/// cannot miss: inside a JSON string every `"` is escaped, so these only
/// occur as keys; the parse then looks at the top level only. A chunk pays
/// one scan for `"done":`.
///
/// ```
/// use om_core::wire::{LineEnd, line_end};
///
/// assert_eq!(line_end(br#"{"response":"hi","done":false}"#), None);
/// assert_eq!(line_end(br#"{"error":"boom"}"#), Some(LineEnd::Error("boom".to_owned())));
/// let Some(LineEnd::Done(metrics)) = line_end(br#"{"done":true,"eval_count":3}"#) else {
///     panic!("a final line")
/// };
/// assert_eq!(metrics.eval_count, Some(3));
/// ```
pub fn line_end(line: &[u8]) -> Option<LineEnd> {
    const DONE: &[u8] = b"\"done\":";
    let mut saw_done = false;
    let mut rest = line;
    let mut may_end = false;
    while let Some(at) = find(rest, DONE) {
        saw_done = true;
        rest = &rest[at + DONE.len()..];
        if rest.trim_ascii_start().starts_with(b"true") {
            may_end = true;
            break;
        }
    }
    let may_end = may_end || (!saw_done && find(line, b"\"error\"").is_some());
    if !may_end {
        return None;
    }
    with_metrics! {
        #[derive(Deserialize)]
        struct Tail {
            #[serde(default)]
            done: bool,
            #[serde(default)]
            error: Option<serde_json::Value>,
        }
    }
    let tail: Tail = serde_json::from_slice(line).ok()?;
    let metrics = tail.metrics();
    if let Some(error) = tail.error {
        let message = match error {
            serde_json::Value::String(text) => text,
            serde_json::Value::Object(map) => match map.get("message") {
                Some(serde_json::Value::String(text)) => text.clone(),
                _ => serde_json::Value::Object(map).to_string(),
            },
            other => other.to_string(),
        };
        return Some(LineEnd::Error(message));
    }
    tail.done.then_some(LineEnd::Done(metrics))
}

/// True when `line` is one JSON value, as every line of a native answer
/// is; anything else is a broken answer that must not reach a client as if
/// it were one. Parses without building anything (`IgnoredAny`).
pub fn is_json_line(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_and_error_lines_end_an_answer() {
        let done = br#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":3,"eval_duration":1000}"#;
        let Some(LineEnd::Done(metrics)) = line_end(done) else { panic!("a final line") };
        assert_eq!((metrics.eval_count, metrics.eval_duration), (Some(3), Some(1000)));
        assert_eq!(line_end(br#"{"error":"boom"}"#), Some(LineEnd::Error("boom".to_owned())));
        assert_eq!(
            line_end(br#"{"error":{"message":"bad","type":"x"}}"#),
            Some(LineEnd::Error("bad".to_owned()))
        );
        // Text that mentions the keys is not a key.
        let chunk = br#"{"model":"m","message":{"role":"assistant","content":"\"done\":true \"error\""},"done":false}"#;
        assert_eq!(line_end(chunk), None);
        // Nested keys are not the line's own.
        let nested = br#"{"message":{"tool_calls":[{"function":{"arguments":{"error":"x","done":true}}}]},"done":false}"#;
        assert_eq!(line_end(nested), None);
        assert_eq!(line_end(b"not json \"error\""), None);
        let nested_first = br#"{"message":{"tool_calls":[{"function":{"arguments":{"done":false}}}]},"done":true}"#;
        assert!(matches!(line_end(nested_first), Some(LineEnd::Done(_))));
        let spaced = br#"{"model":"m","done": true,"eval_count":2}"#;
        assert!(matches!(line_end(spaced), Some(LineEnd::Done(m)) if m.eval_count == Some(2)));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any line, JSON-like or not: an answer, never a panic; a final
        /// line always had a `"done":` key.
        #[test]
        fn fuzz_line_end(text in r#"[{}\[\]":,a-z0-9 \\]{0,80}"#, bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Some(LineEnd::Done(_)) = line_end(text.as_bytes()) {
                prop_assert!(text.contains("\"done\":"));
                prop_assert!(is_json_line(text.as_bytes()));
            }
            let _ = line_end(&bytes);
            let _ = is_json_line(&bytes);
        }
    }
}
