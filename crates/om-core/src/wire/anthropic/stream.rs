//! The `/v1/messages` stream: native chunks in, Anthropic's events out.

use serde::{Deserialize, Serialize};

use super::error::AnthropicErrorDetail;
use super::response::{MessagesResponse, OutputBlock, StopReason, Usage, tool_use_parts};
use crate::wire::ChatResponse;

/// One event of a Messages stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The stream's first event: the message with no content.
    MessageStart {
        /// The message so far.
        message: MessagesResponse,
    },
    /// A content block begins.
    ContentBlockStart {
        /// Its position in the message.
        index: usize,
        /// The block, empty.
        content_block: OutputBlock,
    },
    /// More of the open block.
    ContentBlockDelta {
        /// The block's position.
        index: usize,
        /// What is added.
        delta: BlockDelta,
    },
    /// The open block is complete.
    ContentBlockStop {
        /// The block's position.
        index: usize,
    },
    /// The stop reason and the final counts.
    MessageDelta {
        /// The stop reason.
        delta: MessageDeltaBody,
        /// Token counts of the whole answer.
        usage: Usage,
    },
    /// The stream's last event.
    MessageStop,
    /// Keeps a quiet connection alive.
    Ping,
    /// A failure after the stream began.
    Error {
        /// What failed.
        error: AnthropicErrorDetail,
    },
}

/// What a `content_block_delta` adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// Reasoning.
    ThinkingDelta {
        /// The reasoning text.
        thinking: String,
    },
    /// A tool call's arguments, as JSON text.
    InputJsonDelta {
        /// A piece of the arguments' JSON.
        partial_json: String,
    },
}

/// The `delta` of `message_delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// Always `null` (see [`MessagesResponse::stop_sequence`]).
    pub stop_sequence: Option<String>,
}

impl StreamEvent {
    /// The event's name, for its `event:` line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error { .. } => "error",
        }
    }
}

/// Frames an event as Anthropic does: `event: <name>\ndata: <json>\n\n`.
///
/// # Errors
///
/// Only when the event cannot be serialised, which none can.
pub fn sse_event(event: &StreamEvent) -> serde_json::Result<String> {
    Ok(format!("event: {}\ndata: {}\n\n", event.name(), serde_json::to_string(event)?))
}

/// The kind of the open content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking,
    Text,
}

/// Turns one native chat stream into Messages events.
///
/// - The first native chunk yields `message_start` (and the input tokens,
///   when that chunk already carries them).
/// - Reasoning and text each go into their own block, opened by the first
///   piece and closed when the other kind starts, a tool call comes, or the
///   answer ends; empty pieces open nothing.
/// - Each tool call is a block of its own: `content_block_start` with an
///   empty input, one `input_json_delta` with the whole arguments,
///   `content_block_stop` (Ollama sends calls whole).
/// - The final chunk closes the open block, then `message_delta` with the
///   stop reason (`tool_use` once a call was sent, `max_tokens` on
///   `length`) and the counts, then `message_stop`.
#[derive(Debug, Clone)]
pub struct MessageStreamer {
    id: String,
    started: bool,
    open: Option<Open>,
    next_index: usize,
    tool_calls: usize,
}

impl MessageStreamer {
    /// A streamer for the message `id` (`msg_…`).
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), started: false, open: None, next_index: 0, tool_calls: 0 }
    }

    /// The events for the next native chunk, in order.
    pub fn push(&mut self, native: &ChatResponse) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            let usage = Usage { output_tokens: 0, ..Usage::from_metrics(&native.metrics) };
            let message = MessagesResponse::started(self.id.clone(), native.model.clone(), usage);
            out.push(StreamEvent::MessageStart { message });
        }
        if let Some(thinking) = native.message.thinking.as_ref().filter(|t| !t.is_empty()) {
            let index = self.open_block(Open::Thinking, &mut out);
            let delta = BlockDelta::ThinkingDelta { thinking: thinking.clone() };
            out.push(StreamEvent::ContentBlockDelta { index, delta });
        }
        if !native.message.content.is_empty() {
            let index = self.open_block(Open::Text, &mut out);
            let delta = BlockDelta::TextDelta { text: native.message.content.clone() };
            out.push(StreamEvent::ContentBlockDelta { index, delta });
        }
        for call in native.message.tool_calls.iter().flatten() {
            self.close_block(&mut out);
            let (id, name, input) = tool_use_parts(call, &self.id, self.tool_calls);
            self.tool_calls += 1;
            let index = self.next_index;
            self.next_index += 1;
            let content_block = OutputBlock::ToolUse {
                id,
                name,
                input: serde_json::Value::Object(serde_json::Map::default()),
            };
            out.push(StreamEvent::ContentBlockStart { index, content_block });
            let delta = BlockDelta::InputJsonDelta { partial_json: input.to_string() };
            out.push(StreamEvent::ContentBlockDelta { index, delta });
            out.push(StreamEvent::ContentBlockStop { index });
        }
        if native.done {
            self.close_block(&mut out);
            let stop_reason =
                StopReason::from_native(native.done_reason.as_deref(), self.tool_calls > 0);
            out.push(StreamEvent::MessageDelta {
                delta: MessageDeltaBody { stop_reason, stop_sequence: None },
                usage: Usage::from_metrics(&native.metrics),
            });
            out.push(StreamEvent::MessageStop);
        }
        out
    }

    /// Opens a block of `kind` unless one is open; returns its index.
    fn open_block(&mut self, kind: Open, out: &mut Vec<StreamEvent>) -> usize {
        if self.open == Some(kind) {
            return self.next_index - 1;
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(kind);
        let content_block = match kind {
            Open::Thinking => {
                OutputBlock::Thinking { thinking: String::new(), signature: String::new() }
            }
            Open::Text => OutputBlock::Text { text: String::new() },
        };
        out.push(StreamEvent::ContentBlockStart { index, content_block });
        index
    }

    fn close_block(&mut self, out: &mut Vec<StreamEvent>) {
        if self.open.take().is_some() {
            out.push(StreamEvent::ContentBlockStop { index: self.next_index - 1 });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn chunk(value: Value) -> ChatResponse {
        serde_json::from_value(value).unwrap()
    }

    fn names(events: &[StreamEvent]) -> Vec<&'static str> {
        events.iter().map(StreamEvent::name).collect()
    }

    #[test]
    fn anthropic_order() {
        let mut streamer = MessageStreamer::new("msg_1");
        let mut events = Vec::new();
        for line in [
            json!({"model":"m","message":{"role":"assistant","content":"","thinking":"let me"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":"lo"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":"",
                "tool_calls":[{"id":"call_1","function":{"name":"f","arguments":{"a":1}}}]},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":""},"done":true,
                "done_reason":"stop","prompt_eval_count":5,"eval_count":4}),
        ] {
            events.extend(streamer.push(&chunk(line)));
        }
        assert_eq!(
            names(&events),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let index_of = |event: &StreamEvent| match event {
            StreamEvent::ContentBlockStart { index, .. }
            | StreamEvent::ContentBlockDelta { index, .. }
            | StreamEvent::ContentBlockStop { index } => Some(*index),
            _ => None,
        };
        let indexes: Vec<_> = events.iter().filter_map(index_of).collect();
        assert_eq!(indexes, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
        assert_eq!(
            serde_json::to_value(&events[9]).unwrap(),
            json!({"type":"content_block_delta","index":2,
                "delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}})
        );
        assert_eq!(
            serde_json::to_value(&events[11]).unwrap(),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
                "usage":{"input_tokens":5,"output_tokens":4}})
        );
    }

    #[test]
    fn a_load_only_answer_still_has_start_and_stop() {
        let mut streamer = MessageStreamer::new("msg_2");
        let events = streamer.push(&chunk(json!({"model":"m","message":{"role":"assistant",
            "content":""},"done":true,"done_reason":"length"})));
        assert_eq!(names(&events), ["message_start", "message_delta", "message_stop"]);
        let frame = sse_event(&events[2]).unwrap();
        assert_eq!(frame, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }
}
