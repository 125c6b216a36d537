//! The Prometheus text exposition format, version 0.0.4, rendered from a
//! [`Snapshot`].
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ollama_meta_requests_total` | counter | endpoint, model, category, outcome |
//! | `ollama_meta_errors_total` | counter | endpoint, model, kind |
//! | `ollama_meta_request_duration_seconds` | histogram | endpoint, model |
//! | `ollama_meta_time_to_first_token_seconds` | histogram | endpoint, model |
//! | `ollama_meta_tokens_per_second` | histogram | endpoint, model |
//! | `ollama_meta_output_tokens_total` | counter | endpoint, model |
//! | `ollama_meta_in_flight` | gauge | endpoint, model |
//! | `ollama_meta_queue_depth` | gauge | — |
//! | `ollama_meta_endpoint_concurrency_limit` | gauge | endpoint |
//! | `ollama_meta_breaker_transitions_total` | counter | endpoint, model, to |
//! | `ollama_meta_tasks_started_total` | counter | category |
//! | `ollama_meta_tasks_finished_total` | counter | category, outcome |
//! | `ollama_meta_task_duration_seconds` | histogram | category |
//!
//! Label values are closed sets or fleet configuration: `endpoint` is the
//! configured endpoint id, `model` the model's display form, `category` a
//! [`TaskCategory`](om_core::TaskCategory) name or `none`, `outcome` `ok` or
//! `error`, `kind` an [`ErrorKind::name`](om_core::ErrorKind::name), `to` a
//! [`BreakerState`] name. Prompts, task ids and request ids never become
//! labels. Every family is announced with `# HELP` and `# TYPE` even before
//! it has samples; counters appear once they are non-zero, per-instance
//! gauges and histograms as soon as the instance is known. Bucket bounds are
//! in [`buckets`](crate::buckets).

use std::fmt::{self, Write};

use crate::histogram::Distribution;
use crate::record::BreakerState;
use crate::snapshot::{InstanceSnapshot, Snapshot};

/// The `Content-Type` of the exposition, for a `/metrics` handler.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request attempts by instance, category and outcome.
pub const REQUESTS_TOTAL: &str = "ollama_meta_requests_total";
/// Failed request attempts by instance and error kind.
pub const ERRORS_TOTAL: &str = "ollama_meta_errors_total";
/// Request latency by instance.
pub const REQUEST_DURATION_SECONDS: &str = "ollama_meta_request_duration_seconds";
/// Time to first token by instance.
pub const TIME_TO_FIRST_TOKEN_SECONDS: &str = "ollama_meta_time_to_first_token_seconds";
/// Generation speed by instance.
pub const TOKENS_PER_SECOND: &str = "ollama_meta_tokens_per_second";
/// Output tokens by instance.
pub const OUTPUT_TOKENS_TOTAL: &str = "ollama_meta_output_tokens_total";
/// Requests running now, by instance.
pub const IN_FLIGHT: &str = "ollama_meta_in_flight";
/// Tasks waiting in the dispatcher's queue.
pub const QUEUE_DEPTH: &str = "ollama_meta_queue_depth";
/// Requests an endpoint is sent at once: its learned or configured limit.
pub const ENDPOINT_CONCURRENCY_LIMIT: &str = "ollama_meta_endpoint_concurrency_limit";
/// Circuit breaker transitions by instance and state entered.
pub const BREAKER_TRANSITIONS_TOTAL: &str = "ollama_meta_breaker_transitions_total";
/// Tasks started by category.
pub const TASKS_STARTED_TOTAL: &str = "ollama_meta_tasks_started_total";
/// Tasks finished by category and outcome.
pub const TASKS_FINISHED_TOTAL: &str = "ollama_meta_tasks_finished_total";
/// Task duration by category.
pub const TASK_DURATION_SECONDS: &str = "ollama_meta_task_duration_seconds";

/// The label value of uncategorised work.
pub const NO_CATEGORY: &str = "none";

impl Snapshot {
    /// The snapshot in the Prometheus text exposition format 0.0.4.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(4096 + self.instances.len() * 4096);
        self.write_prometheus(&mut out).expect("writing to a String cannot fail");
        out
    }

    /// Writes the snapshot in the Prometheus text exposition format 0.0.4.
    ///
    /// # Errors
    ///
    /// Only what `out` returns.
    pub fn write_prometheus<W: Write>(&self, out: &mut W) -> fmt::Result {
        let instances: Vec<Series<'_>> = self
            .instances
            .iter()
            .map(|i| Series { instance: i, model: i.model.to_string() })
            .collect();

        header(
            out,
            REQUESTS_TOTAL,
            "counter",
            "Request attempts finished, by instance, task category and outcome.",
        )?;
        for entry in &instances {
            let [endpoint, model] = entry.labels();
            for counts in &entry.instance.by_category {
                let category = counts.category.map_or(NO_CATEGORY, |c| c.as_str());
                for (outcome, value) in [("ok", counts.successes), ("error", counts.failures)] {
                    if value > 0 {
                        let labels =
                            [endpoint, model, ("category", category), ("outcome", outcome)];
                        sample(out, REQUESTS_TOTAL, &labels, None, value)?;
                    }
                }
            }
        }

        header(
            out,
            ERRORS_TOTAL,
            "counter",
            "Failed request attempts, by instance and error kind.",
        )?;
        for entry in &instances {
            let [endpoint, model] = entry.labels();
            for (kind, &value) in &entry.instance.stats.errors {
                let labels = [endpoint, model, ("kind", kind.as_str())];
                sample(out, ERRORS_TOTAL, &labels, None, value)?;
            }
        }

        let histograms: [(&str, &str, Pick); 3] = [
            (
                REQUEST_DURATION_SECONDS,
                "Request latency from sending to the last byte or the failure, by instance.",
                |i| &i.stats.latency_seconds,
            ),
            (TIME_TO_FIRST_TOKEN_SECONDS, "Time to the first generated token, by instance.", |i| {
                &i.stats.ttft_seconds
            }),
            (
                TOKENS_PER_SECOND,
                "Generation speed in output tokens per second, by instance.",
                |i| &i.stats.tokens_per_second,
            ),
        ];
        for (name, help, distribution) in histograms {
            header(out, name, "histogram", help)?;
            for entry in &instances {
                histogram(out, name, &entry.labels(), distribution(entry.instance))?;
            }
        }

        header(out, OUTPUT_TOKENS_TOTAL, "counter", "Output tokens generated, by instance.")?;
        for entry in &instances {
            let tokens = entry.instance.stats.output_tokens;
            if tokens > 0 {
                sample(out, OUTPUT_TOKENS_TOTAL, &entry.labels(), None, tokens)?;
            }
        }

        header(out, IN_FLIGHT, "gauge", "Request attempts running now, by instance.")?;
        for entry in &instances {
            sample(out, IN_FLIGHT, &entry.labels(), None, entry.instance.stats.in_flight)?;
        }

        header(out, QUEUE_DEPTH, "gauge", "Tasks waiting in the dispatcher's queue.")?;
        sample(out, QUEUE_DEPTH, &[], None, self.queue_depth)?;

        header(
            out,
            ENDPOINT_CONCURRENCY_LIMIT,
            "gauge",
            "Requests an endpoint is sent at once (learned or configured).",
        )?;
        for entry in &self.endpoint_limits {
            let labels = [("endpoint", entry.endpoint.as_str())];
            sample(out, ENDPOINT_CONCURRENCY_LIMIT, &labels, None, entry.limit)?;
        }

        header(
            out,
            BREAKER_TRANSITIONS_TOTAL,
            "counter",
            "Circuit breaker state changes, by instance and the state entered.",
        )?;
        for entry in &instances {
            let [endpoint, model] = entry.labels();
            for state in BreakerState::ALL {
                let value = entry.instance.breaker_transitions.to(state);
                if value > 0 {
                    let labels = [endpoint, model, ("to", state.as_str())];
                    sample(out, BREAKER_TRANSITIONS_TOTAL, &labels, None, value)?;
                }
            }
        }

        header(out, TASKS_STARTED_TOTAL, "counter", "Tasks started, by task category.")?;
        for category in &self.categories {
            if category.tasks.started > 0 {
                let name = category.category.map_or(NO_CATEGORY, |c| c.as_str());
                sample(
                    out,
                    TASKS_STARTED_TOTAL,
                    &[("category", name)],
                    None,
                    category.tasks.started,
                )?;
            }
        }

        header(
            out,
            TASKS_FINISHED_TOTAL,
            "counter",
            "Tasks finished, by task category and outcome.",
        )?;
        for category in &self.categories {
            let name = category.category.map_or(NO_CATEGORY, |c| c.as_str());
            for (outcome, value) in
                [("ok", category.tasks.succeeded), ("error", category.tasks.failed)]
            {
                if value > 0 {
                    let labels = [("category", name), ("outcome", outcome)];
                    sample(out, TASKS_FINISHED_TOTAL, &labels, None, value)?;
                }
            }
        }

        header(
            out,
            TASK_DURATION_SECONDS,
            "histogram",
            "Task duration from start to finish, all attempts included, by task category.",
        )?;
        for category in &self.categories {
            if category.tasks.duration_seconds.count > 0 {
                let name = category.category.map_or(NO_CATEGORY, |c| c.as_str());
                histogram(
                    out,
                    TASK_DURATION_SECONDS,
                    &[("category", name)],
                    &category.tasks.duration_seconds,
                )?;
            }
        }
        Ok(())
    }
}

/// Picks one of an instance's distributions.
type Pick = fn(&InstanceSnapshot) -> &Distribution;

/// One instance's series, with its model label rendered once.
struct Series<'a> {
    instance: &'a InstanceSnapshot,
    model: String,
}

impl Series<'_> {
    fn labels(&self) -> [(&str, &str); 2] {
        [("endpoint", self.instance.endpoint.as_str()), ("model", &self.model)]
    }
}

/// `# HELP` and `# TYPE` lines of one family.
fn header<W: Write>(out: &mut W, name: &str, kind: &str, help: &str) -> fmt::Result {
    out.write_str("# HELP ")?;
    out.write_str(name)?;
    out.write_char(' ')?;
    escape_help(out, help)?;
    writeln!(out, "\n# TYPE {name} {kind}")
}

/// One histogram series: cumulative `_bucket`s ending with `le="+Inf"`, then
/// `_sum` and `_count`.
fn histogram<W: Write>(
    out: &mut W,
    name: &str,
    labels: &[(&str, &str)],
    distribution: &Distribution,
) -> fmt::Result {
    let bucket = format!("{name}_bucket");
    let mut le = String::new();
    for b in &distribution.buckets {
        le.clear();
        write_float(&mut le, b.le)?;
        sample(out, &bucket, labels, Some(&le), b.count)?;
    }
    sample(out, &bucket, labels, Some("+Inf"), distribution.count)?;
    sample(out, &format!("{name}_sum"), labels, None, Float(distribution.sum))?;
    sample(out, &format!("{name}_count"), labels, None, distribution.count)
}

/// One sample line: `name{labels,le="…"} value`.
fn sample<W: Write>(
    out: &mut W,
    name: &str,
    labels: &[(&str, &str)],
    le: Option<&str>,
    value: impl fmt::Display,
) -> fmt::Result {
    out.write_str(name)?;
    let le = le.map(|le| ("le", le));
    let mut all = labels.iter().copied().chain(le).peekable();
    if all.peek().is_some() {
        out.write_char('{')?;
        for (index, (key, value)) in all.enumerate() {
            if index > 0 {
                out.write_char(',')?;
            }
            out.write_str(key)?;
            out.write_str("=\"")?;
            escape_label_value(out, value)?;
            out.write_char('"')?;
        }
        out.write_char('}')?;
    }
    writeln!(out, " {value}")
}

/// A float as the exposition format spells it (`+Inf`, `-Inf`, `NaN`).
struct Float(f64);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_float(f, self.0)
    }
}

fn write_float<W: Write>(out: &mut W, value: f64) -> fmt::Result {
    if value.is_nan() {
        out.write_str("NaN")
    } else if value.is_infinite() {
        out.write_str(if value > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        // Rust prints the shortest decimal that round-trips, never with an
        // exponent: `0.005`, `1`, `12.5`.
        write!(out, "{value}")
    }
}

/// Escapes a label value: backslash, double quote and line feed, as the
/// format requires.
pub fn escape_label_value<W: Write>(out: &mut W, value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '"' => out.write_str("\\\"")?,
            '\n' => out.write_str("\\n")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Escapes `# HELP` text: backslash and line feed.
fn escape_help<W: Write>(out: &mut W, help: &str) -> fmt::Result {
    for c in help.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped(value: &str) -> String {
        let mut out = String::new();
        escape_label_value(&mut out, value).unwrap();
        out
    }

    /// Undoes the escaping the way the format defines it, rejecting anything
    /// a conforming parser would reject.
    fn unescape(text: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escaped(r"C:\models"), r"C:\\models");
        assert_eq!(escaped(r#"say "hi""#), r#"say \"hi\""#);
        assert_eq!(escaped("two\nlines"), r"two\nlines");
        assert_eq!(escaped("tab\tand } , = stay"), "tab\tand } , = stay");
        assert_eq!(escaped("ünïcödé"), "ünïcödé");
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        let mut out = String::new();
        escape_help(&mut out, "a \"b\" \\ c\nd").unwrap();
        assert_eq!(out, "a \"b\" \\\\ c\\nd");
    }

    #[test]
    fn floats_use_the_format_spelling() {
        let render = |v: f64| Float(v).to_string();
        assert_eq!(render(f64::INFINITY), "+Inf");
        assert_eq!(render(f64::NEG_INFINITY), "-Inf");
        assert_eq!(render(f64::NAN), "NaN");
        assert_eq!(render(0.005), "0.005");
        assert_eq!(render(1.0), "1");
        assert_eq!(render(1e-7), "0.0000001");
    }

    #[test]
    fn sample_lines() {
        let mut out = String::new();
        sample(&mut out, "m", &[], None, 3).unwrap();
        sample(&mut out, "m", &[("a", "x\"y")], Some("0.5"), 4).unwrap();
        assert_eq!(out, "m 3\nm{a=\"x\\\"y\",le=\"0.5\"} 4\n");
    }

    proptest! {
        #[test]
        fn escaping_round_trips(value in any::<String>()) {
            let text = escaped(&value);
            prop_assert!(!text.contains('\n'));
            prop_assert_eq!(unescape(&text), Some(value));
        }
    }
}
