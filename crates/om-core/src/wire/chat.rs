//! `POST /api/chat`.

use serde::{Deserialize, Serialize};

use super::common::{Format, KeepAlive, Message, Metrics, Options, Think, Tool, with_metrics};

/// A chat request (`OLLAMA_API.md` §4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model, as the caller spelled it.
    #[serde(default)]
    pub model: String,
    /// The conversation; empty means "just load the model".
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// JSON mode or schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Model options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// Stream NDJSON chunks; Ollama's default is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// How long to keep the model loaded afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    /// Reasoning trace on or off, or its level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// Drop oldest history to fit the context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
    /// Context shifting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<bool>,
    /// Per-token log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// How many alternatives per token (0–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<i64>,
}

impl ChatRequest {
    /// A streaming request with these messages.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self { model: model.into(), messages, ..Self::default() }
    }

    /// Whether the response streams (Ollama defaults to yes).
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(true)
    }
}

/// One chat chunk, or the whole non-streaming response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "ChatResponseWire")]
pub struct ChatResponse {
    /// The model as requested.
    #[serde(default)]
    pub model: String,
    /// UTC RFC 3339 time of this chunk.
    #[serde(default)]
    pub created_at: String,
    /// The next piece of the assistant's message.
    #[serde(default)]
    pub message: Message,
    /// True on the last chunk.
    #[serde(default)]
    pub done: bool,
    /// Why generation ended (`stop`, `length`, `load`, `unload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Timing and token counts (final chunk only).
    #[serde(flatten)]
    pub metrics: Metrics,
}

with_metrics! {
    /// A [`ChatResponse`] as read: its metrics' fields spelled out.
    #[derive(Deserialize)]
    struct ChatResponseWire {
        #[serde(default)]
        model: String,
        #[serde(default)]
        created_at: String,
        #[serde(default)]
        message: Message,
        #[serde(default)]
        done: bool,
        #[serde(default)]
        done_reason: Option<String>,
    }
}

impl From<ChatResponseWire> for ChatResponse {
    fn from(wire: ChatResponseWire) -> Self {
        Self {
            metrics: wire.metrics(),
            model: wire.model,
            created_at: wire.created_at,
            message: wire.message,
            done: wire.done,
            done_reason: wire.done_reason,
        }
    }
}
