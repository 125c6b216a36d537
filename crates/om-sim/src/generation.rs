//! Token generation: paces a composed reply out piece by piece, applies
//! `num_predict` and `stop`, injects mid-stream faults and measures the
//! metrics of the final chunk.
//!
//! A [`Generator`] owns the request's [`Lease`] and its hold on the
//! endpoint's shared compute ([`Active`]), so dropping it — which is what
//! hyper does with the response body when the client goes away — stops
//! generation, frees the parallel slot and stops slowing the other requests
//! at once.
//!
//! Tokens are paced on the compute's per-request virtual clock rather than
//! on wall time: token `k` is due when the clock has advanced `k ×
//! per_token` past the start of generation, so a request slows down from
//! the moment another one joins and speeds up when it leaves.

use std::time::Duration;

use om_core::wire::{Metrics, ToolCall};
use tokio::time::Instant;

use crate::compute::Active;
use crate::fault::{Faults, SIMULATED_FAILURE};
use crate::scheduler::Lease;

/// One thing the generator produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// A piece of the reasoning trace.
    Thinking(String),
    /// A piece of the answer.
    Content(String),
    /// Tool calls, whole.
    ToolCalls(Vec<ToolCall>),
    /// The `malformed_line_after_tokens` fault: write a line that is not JSON.
    Malformed,
    /// An error after streaming started: write `{"error":…}` and end.
    Error(String),
    /// The `disconnect_after_tokens` fault: drop the connection.
    Disconnect,
    /// The end, with the final chunk's data.
    Done(Finish),
}

/// What the final chunk reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finish {
    /// `stop` or `length`.
    pub(crate) done_reason: &'static str,
    pub(crate) metrics: Metrics,
}

/// The reply to stream, already split into tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    pub(crate) thinking: Vec<String>,
    pub(crate) content: Vec<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    /// Tokens the tool calls cost.
    pub(crate) tool_call_tokens: u64,
}

/// Limits and timing of one generation.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `num_predict` when non-negative.
    pub(crate) num_predict: Option<u64>,
    pub(crate) stop: Vec<String>,
    /// Time per generated token for a request running alone (lone-compute
    /// seconds); zero streams as fast as possible.
    pub(crate) per_token: Duration,
    /// The faults in force when the request started.
    pub(crate) faults: Faults,
}

/// Timings measured before generation began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prelude {
    pub(crate) request_start: Instant,
    pub(crate) load_duration: Duration,
    pub(crate) prompt_eval_count: u64,
    pub(crate) prompt_eval_duration: Duration,
}

/// Floors for measured durations: under paused time or with zero pacing a
/// phase can take no measurable time, but clients (ollama-rs) need all six
/// metrics present, and Ollama omits zeros.
const MIN_PHASE: Duration = Duration::from_micros(1);

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Streams one reply.
#[derive(Debug)]
pub(crate) struct Generator {
    script: Script,
    settings: Settings,
    prelude: Prelude,
    /// Held so that the slot is freed exactly when generation ends or is dropped.
    lease: Option<Lease>,
    /// Held for the same reason: the request counts against the endpoint's
    /// compute until it ends.
    active: Option<Active>,
    stop: StopFilter,
    /// Wall time generation began (shifted past a stall), for `eval_duration`.
    gen_start: Instant,
    /// The compute's virtual clock when generation began (shifted past a
    /// stall): the origin of token pacing.
    virtual_start: Duration,
    thinking_at: usize,
    content_at: usize,
    /// Tokens produced (for pacing, `num_predict` and `eval_count`).
    generated: u64,
    /// Token lines written (what fault thresholds count).
    emitted: u64,
    /// One-shot faults already fired.
    stalled: bool,
    malformed: bool,
    stage: Stage,
}

/// Where a generation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Streaming thinking and content.
    Tokens,
    /// A stop sequence was hit: only the final chunk is left.
    Stopped,
    /// The tool calls went out: only the final chunk is left.
    ToolsSent,
    /// Nothing more.
    Finished,
}

impl Generator {
    pub(crate) fn new(
        script: Script,
        settings: Settings,
        prelude: Prelude,
        lease: Lease,
        active: Active,
    ) -> Self {
        let stop = StopFilter::new(settings.stop.clone());
        let virtual_start = active.compute().virtual_now();
        Self {
            script,
            settings,
            prelude,
            lease: Some(lease),
            active: Some(active),
            stop,
            gen_start: Instant::now(),
            virtual_start,
            thinking_at: 0,
            content_at: 0,
            generated: 0,
            emitted: 0,
            stalled: false,
            malformed: false,
            stage: Stage::Tokens,
        }
    }

    /// The next step; `None` after the last one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe between steps: a dropped call loses at most the token it
    /// was pacing.
    pub(crate) async fn next(&mut self) -> Option<Step> {
        if self.stage == Stage::Finished {
            return None;
        }
        let faults = &self.settings.faults;
        let n = self.emitted;
        if faults.disconnect_after_tokens == Some(n) {
            // Give hyper one pending poll to flush the lines already written,
            // so the client sees exactly `n` of them before the drop.
            tokio::task::yield_now().await;
            return Some(self.end(Step::Disconnect));
        }
        if faults.error_line_after_tokens == Some(n) {
            return Some(self.end(Step::Error(SIMULATED_FAILURE.to_owned())));
        }
        if faults.malformed_line_after_tokens == Some(n) && !self.malformed {
            self.malformed = true;
            return Some(Step::Malformed);
        }
        if let Some((after, pause)) = faults.stall_after_tokens
            && after == n
            && !self.stalled
        {
            self.stalled = true;
            let before = self.virtual_now();
            tokio::time::sleep(pause).await;
            // Pacing resumes from here instead of catching up in a burst.
            // The stalled request still holds its share of the compute, as
            // a stuck runner holds its place in the batch.
            self.gen_start += pause;
            self.virtual_start += self.virtual_now().saturating_sub(before);
        }
        if self.stage != Stage::Tokens {
            return Some(self.finish("stop"));
        }
        loop {
            if self.limit_reached() {
                return Some(self.finish("length"));
            }
            if self.thinking_at < self.script.thinking.len() {
                let piece = self.script.thinking[self.thinking_at].clone();
                self.thinking_at += 1;
                self.pace(1).await;
                self.emitted += 1;
                return Some(Step::Thinking(piece));
            }
            if self.content_at < self.script.content.len() {
                let piece = self.script.content[self.content_at].clone();
                self.content_at += 1;
                self.pace(1).await;
                let (text, hit) = self.stop.push(&piece);
                if hit {
                    self.stage = Stage::Stopped;
                }
                if !text.is_empty() {
                    self.emitted += 1;
                    return Some(Step::Content(text));
                }
                if hit {
                    return Some(self.finish("stop"));
                }
                continue;
            }
            let rest = self.stop.flush();
            if !rest.is_empty() {
                self.emitted += 1;
                return Some(Step::Content(rest));
            }
            if !self.script.tool_calls.is_empty() {
                self.stage = Stage::ToolsSent;
                self.pace(self.script.tool_call_tokens.max(1)).await;
                return Some(Step::ToolCalls(self.script.tool_calls.clone()));
            }
            return Some(self.finish("stop"));
        }
    }

    fn limit_reached(&self) -> bool {
        let more = self.thinking_at < self.script.thinking.len()
            || self.content_at < self.script.content.len()
            || !self.script.tool_calls.is_empty();
        more && self.settings.num_predict.is_some_and(|limit| self.generated >= limit)
    }

    /// The compute's virtual clock now (zero once generation ended).
    fn virtual_now(&self) -> Duration {
        self.active.as_ref().map_or(Duration::ZERO, |a| a.compute().virtual_now())
    }

    async fn pace(&mut self, tokens: u64) {
        self.generated += tokens;
        if self.settings.per_token.is_zero() {
            return;
        }
        let Some(active) = &self.active else { return };
        // Due times are absolute on the virtual clock, so rounding in one
        // token's wake-up never accumulates into drift.
        let work =
            self.settings.per_token.saturating_mul(self.generated.min(u64::from(u32::MAX)) as u32);
        active.compute().wait_until(self.virtual_start.saturating_add(work)).await;
    }

    fn end(&mut self, step: Step) -> Step {
        self.stage = Stage::Finished;
        self.lease = None;
        self.active = None;
        step
    }

    fn finish(&mut self, done_reason: &'static str) -> Step {
        let now = Instant::now();
        let eval = now.duration_since(self.gen_start).max(MIN_PHASE);
        let load = self.prelude.load_duration.max(MIN_PHASE);
        let prompt = self.prelude.prompt_eval_duration.max(MIN_PHASE);
        let total = now.duration_since(self.prelude.request_start).max(load + prompt + eval);
        let metrics = Metrics {
            total_duration: Some(nanos(total)),
            load_duration: Some(nanos(load)),
            prompt_eval_count: Some(self.prelude.prompt_eval_count.max(1)),
            prompt_eval_duration: Some(nanos(prompt)),
            eval_count: Some(self.generated),
            eval_duration: Some(nanos(eval)),
        };
        self.end(Step::Done(Finish { done_reason, metrics }))
    }
}

/// Holds back text that might be the start of a stop sequence, and cuts the
/// output at the first one (which is not emitted).
#[derive(Debug, Clone, Default)]
pub(crate) struct StopFilter {
    stops: Vec<String>,
    held: String,
}

impl StopFilter {
    pub(crate) fn new(stops: Vec<String>) -> Self {
        Self { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new() }
    }

    /// Adds a piece; returns the text safe to emit and whether a stop
    /// sequence was hit (then nothing more may be emitted).
    pub(crate) fn push(&mut self, piece: &str) -> (String, bool) {
        self.held.push_str(piece);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let text = self.held[..at].to_owned();
            self.held.clear();
            return (text, true);
        }
        // Keep back the longest tail that could still grow into a stop.
        let keep = self
            .held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.held.len());
        let text = self.held[..keep].to_owned();
        self.held.drain(..keep);
        (text, false)
    }

    /// Whatever is held back, at the end of the reply.
    pub(crate) fn flush(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn stop_cuts_and_is_not_emitted() {
        let mut f = StopFilter::new(vec!["END".to_owned()]);
        assert_eq!(f.push("hello "), ("hello ".to_owned(), false));
        assert_eq!(f.push("E"), (String::new(), false));
        assert_eq!(f.push("N"), (String::new(), false));
        assert_eq!(f.push("Dx"), (String::new(), true));
    }

    #[test]
    fn false_alarm_is_released() {
        let mut f = StopFilter::new(vec!["END".to_owned()]);
        assert_eq!(f.push("EN"), (String::new(), false));
        assert_eq!(f.push("o"), ("ENo".to_owned(), false));
        assert_eq!(f.push("E"), (String::new(), false));
        assert_eq!(f.flush(), "E");
    }

    proptest! {
        #[test]
        fn output_is_the_text_before_the_first_stop(
            pieces in prop::collection::vec("[a-cé ]{0,4}", 0..12),
            stop in "[a-c]{1,3}",
        ) {
            let text: String = pieces.concat();
            let mut f = StopFilter::new(vec![stop.clone()]);
            let mut out = String::new();
            let mut hit = false;
            for p in &pieces {
                let (t, h) = f.push(p);
                out.push_str(&t);
                if h { hit = true; break; }
            }
            if !hit { out.push_str(&f.flush()); }
            let expected = text.find(&stop).map_or(text.as_str(), |at| &text[..at]);
            prop_assert_eq!(hit, text.contains(&stop));
            prop_assert_eq!(out, expected);
        }
    }
}
