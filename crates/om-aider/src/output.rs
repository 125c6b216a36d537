//! What a session's log says: the token usage Aider reports and the model
//! API errors it printed.
//!
//! After each reply Aider prints one usage line (`Coder::calculate_and_show_tokens_and_cost`
//! and `show_usage_report` in aider-chat 0.86) and then resets its counters,
//! so the session's usage is the sum of its lines:
//!
//! ```text
//! Tokens: 2.4k sent, 52 received.
//! Tokens: 12k sent, 1.1k cache write, 3.2k cache hit, 345 received. Cost: $0.01 message, $0.02 session.
//! ```
//!
//! Counts come from `format_tokens`: exact below 1000, one decimal in
//! thousands below 10 000 (`1.2k`), whole thousands above (`12k`), so parsed
//! totals are exact for small sessions and within 50 (or 500) tokens per
//! line for larger ones.
//!
//! A model call that fails is printed as `litellm.<Name>Error: …` (then
//! `Retrying in …` and another try). Aider exits 0 even when every try
//! failed, so these lines are how a session tells "the model never
//! answered" from success.

/// Tokens a session used, summed over Aider's usage lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Prompt tokens sent (cache writes included, as Aider counts them).
    pub sent: u64,
    /// Completion tokens received.
    pub received: u64,
}

impl TokenUsage {
    /// Sent plus received.
    pub fn total(self) -> u64 {
        self.sent.saturating_add(self.received)
    }
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, other: Self) {
        self.sent = self.sent.saturating_add(other.sent);
        self.received = self.received.saturating_add(other.received);
    }
}

/// One parsed usage line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenLine {
    /// `… sent`.
    pub sent: u64,
    /// `… cache write`, when present.
    pub cache_write: u64,
    /// `… cache hit`, when present.
    pub cache_hit: u64,
    /// `… received.`
    pub received: u64,
}

/// Parses one Aider usage line (`Tokens: 1.2k sent, 345 received.`),
/// ignoring leading blanks and anything after the `received.` part (the
/// cost report). `None` when the line is not one.
///
/// ```
/// use om_aider::parse_token_line;
///
/// let line = parse_token_line("Tokens: 1.2k sent, 345 received.").expect("a usage line");
/// assert_eq!((line.sent, line.received), (1200, 345));
/// assert_eq!(parse_token_line("Applied edit to f.py"), None);
/// ```
pub fn parse_token_line(line: &str) -> Option<TokenLine> {
    let rest = line.trim_start().strip_prefix("Tokens:")?;
    let mut parsed = TokenLine::default();
    let mut seen_sent = false;
    for part in rest.split(',') {
        let part = part.trim();
        let (count, label) = part.split_once(' ')?;
        let count = parse_count(count)?;
        match label {
            "sent" if !seen_sent => {
                parsed.sent = count;
                seen_sent = true;
            }
            "cache write" if seen_sent => parsed.cache_write = count,
            "cache hit" if seen_sent => parsed.cache_hit = count,
            received if seen_sent && received.starts_with("received.") => {
                parsed.received = count;
                return Some(parsed);
            }
            _ => return None,
        }
    }
    None
}

/// Parses Aider's `format_tokens` output: `345`, `1.2k`, `12k`.
fn parse_count(text: &str) -> Option<u64> {
    let Some(thousands) = text.strip_suffix('k') else {
        return digits(text);
    };
    match thousands.split_once('.') {
        None => digits(thousands)?.checked_mul(1000),
        Some((whole, tenths)) if tenths.len() == 1 => {
            digits(whole)?.checked_mul(1000)?.checked_add(digits(tenths)? * 100)
        }
        Some(_) => None,
    }
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What a whole session log says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputScan {
    /// The usage, summed.
    pub tokens: TokenUsage,
    /// How many usage lines there were (one per model reply).
    pub replies: u32,
    /// How many model API errors were printed.
    pub api_errors: u32,
    /// The last API error line.
    pub last_api_error: Option<String>,
}

impl OutputScan {
    /// Scans a log. A usage line that the console wrapped (it lacks its
    /// `received.` part) is joined with the next line before parsing.
    pub fn scan(log: &str) -> Self {
        let mut scan = Self::default();
        let mut lines = log.lines().peekable();
        while let Some(line) = lines.next() {
            let trimmed = line.trim();
            if trimmed.starts_with("Tokens:") {
                let parsed = parse_token_line(trimmed).or_else(|| {
                    let next = lines.peek()?;
                    let joined = format!("{trimmed} {}", next.trim());
                    let parsed = parse_token_line(&joined)?;
                    lines.next();
                    Some(parsed)
                });
                if let Some(parsed) = parsed {
                    scan.tokens += TokenUsage { sent: parsed.sent, received: parsed.received };
                    scan.replies += 1;
                }
            } else if is_api_error(trimmed) {
                scan.api_errors += 1;
                scan.last_api_error = Some(trimmed.to_owned());
            }
        }
        scan
    }

    /// True when model calls failed and none succeeded: the session never
    /// got an answer.
    pub fn model_unreachable(&self) -> bool {
        self.api_errors > 0 && self.replies == 0
    }

    /// Scans the JSON output of Claude Code (`--output-format json`: one
    /// `result` object with the session's `usage`, `is_error` when it
    /// failed) or Codex (`exec --json`: a `turn.completed` event with its
    /// `usage` per turn, `error` and `turn.failed` events). Lines that are
    /// not JSON (progress on stderr) are skipped.
    pub fn scan_json(log: &str) -> Self {
        let mut scan = Self::default();
        for line in log.lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
                continue;
            };
            let kind = event.get("type").and_then(serde_json::Value::as_str).unwrap_or_default();
            let failed = match kind {
                "result" => {
                    event.get("is_error").and_then(serde_json::Value::as_bool) == Some(true)
                }
                "error" | "turn.failed" => true,
                _ => false,
            };
            if failed {
                scan.api_errors += 1;
                let message = event
                    .get("result")
                    .or_else(|| event.get("message"))
                    .or_else(|| event.pointer("/error/message"))
                    .and_then(serde_json::Value::as_str)
                    .map_or_else(|| line.trim().to_owned(), str::to_owned);
                scan.last_api_error = Some(message);
                continue;
            }
            if !matches!(kind, "result" | "turn.completed") {
                continue;
            }
            if let Some(usage) = event.get("usage") {
                let count =
                    |key: &str| usage.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
                scan.tokens.sent = scan.tokens.sent.saturating_add(count("input_tokens"));
                scan.tokens.received = scan.tokens.received.saturating_add(count("output_tokens"));
                scan.replies += 1;
            }
        }
        scan
    }
}

/// `litellm.APIConnectionError: …`, `litellm.NotFoundError: …`.
fn is_api_error(line: &str) -> bool {
    line.strip_prefix("litellm.").and_then(|rest| rest.split_once(':')).is_some_and(|(name, _)| {
        name.ends_with("Error") && name.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Aider's `format_tokens` (aider/utils.py), for the round trip.
    fn format_tokens(count: u64) -> String {
        if count < 1000 {
            count.to_string()
        } else if count < 10_000 {
            format!("{:.1}k", count as f64 / 1000.0)
        } else {
            format!("{}k", (count as f64 / 1000.0).round())
        }
    }

    #[test]
    fn usage_lines_in_every_shape() {
        let cases = [
            ("Tokens: 652 sent, 38 received.", (652, 0, 0, 38)),
            ("Tokens: 2.4k sent, 52 received.", (2400, 0, 0, 52)),
            ("  Tokens: 12k sent, 1.0k received.", (12_000, 0, 0, 1000)),
            (
                "Tokens: 12k sent, 1.1k cache write, 3.2k cache hit, 345 received. Cost: $0.01 message, $0.02 session.",
                (12_000, 1100, 3200, 345),
            ),
            ("Tokens: 0 sent, 0 received.", (0, 0, 0, 0)),
            (
                "Tokens: 9.9k sent, 10k received. Cost: $0.00 message, $0.00 session.",
                (9900, 0, 0, 10_000),
            ),
        ];
        for (line, (sent, cache_write, cache_hit, received)) in cases {
            assert_eq!(
                parse_token_line(line),
                Some(TokenLine { sent, cache_write, cache_hit, received }),
                "{line}"
            );
        }
    }

    #[test]
    fn other_lines_are_not_usage() {
        for line in [
            "",
            "Tokens:",
            "Tokens: many sent, 3 received.",
            "Tokens: 1 sent",
            "Tokens: 1 received.",
            "Tokens: 1 sent, 2 received",
            "Tokens: 1.23k sent, 2 received.",
            "Tokens: -1 sent, 2 received.",
            "Tokens: 1 sent, 2 sent, 3 received.",
            "tokens: 1 sent, 2 received.",
            "Applied edit to f1.py",
        ] {
            assert_eq!(parse_token_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn a_log_is_summed_and_errors_counted() {
        let log = "\
Aider v0.86.2
Model: ollama_chat/qwen2.5-coder:7b with diff edit format
litellm.APIConnectionError: Ollama_chatException - [Errno 111] Connection
refused
Retrying in 0.2 seconds...
Tokens: 2.4k sent, 52 received.
Applied edit to f2.py
Tokens: 1.1k sent, 1.2k cache write, 3 cache hit,
345 received.
Commit 225c05e chore: append edited-by marker
litellm.NotFoundError: model not found
Tokens: 7 sent, 8 received. Cost: $0.00 message, $0.00 session.
";
        let scan = OutputScan::scan(log);
        assert_eq!(scan.tokens, TokenUsage { sent: 2400 + 1100 + 7, received: 52 + 345 + 8 });
        assert_eq!(scan.replies, 3);
        assert_eq!(scan.api_errors, 2);
        assert_eq!(scan.last_api_error.as_deref(), Some("litellm.NotFoundError: model not found"));
        assert!(!scan.model_unreachable());
        assert_eq!(scan.tokens.total(), 3507 + 405);
    }

    #[test]
    fn only_errors_means_unreachable() {
        let log = "litellm.APIConnectionError: refused\nRetrying in 0.2 seconds...\nlitellm.APIConnectionError: refused\n";
        let scan = OutputScan::scan(log);
        assert!(scan.model_unreachable());
        assert_eq!(scan.api_errors, 2);
        assert!(!OutputScan::scan("nothing happened").model_unreachable());
        assert!(!OutputScan::scan("litellm.utils: fine").model_unreachable());
    }

    proptest! {
        /// Aider's own rendering of any count parses back to within its rounding.
        #[test]
        fn format_tokens_round_trips(sent in 0u64..5_000_000, received in 0u64..5_000_000) {
            let line = format!("Tokens: {} sent, {} received.", format_tokens(sent), format_tokens(received));
            let parsed = parse_token_line(&line).expect("aider's format parses");
            for (got, want) in [(parsed.sent, sent), (parsed.received, received)] {
                let tolerance = if want < 1000 { 0 } else if want < 10_000 { 50 } else { 500 };
                prop_assert!(got.abs_diff(want) <= tolerance, "{} vs {}", got, want);
            }
        }

        /// No input makes the parser or the scanner panic.
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse_token_line(&text);
            let _ = OutputScan::scan(&text);
            let with_prefix = format!("Tokens: {text}");
            let _ = parse_token_line(&with_prefix);
        }
    }
}
