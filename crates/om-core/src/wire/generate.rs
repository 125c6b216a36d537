//! `POST /api/generate`.

use serde::{Deserialize, Serialize};

use super::common::{Format, KeepAlive, Metrics, Options, Think, ToolCall, with_metrics};

/// A generate request (`OLLAMA_API.md` §3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The model, as the caller spelled it.
    #[serde(default)]
    pub model: String,
    /// The prompt; empty means "just load the model".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Fill-in-the-middle suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// System prompt override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Template override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Deprecated conversational memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<i64>>,
    /// Stream NDJSON chunks; Ollama's default is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// No templating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<bool>,
    /// JSON mode or schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Base64 images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// Model options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
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

impl GenerateRequest {
    /// A streaming request for `prompt` on `model`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self { model: model.into(), prompt: Some(prompt.into()), ..Self::default() }
    }

    /// Whether the response streams (Ollama defaults to yes).
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(true)
    }
}

/// One generate chunk, or the whole non-streaming response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "GenerateResponseWire")]
pub struct GenerateResponse {
    /// The model as requested.
    #[serde(default)]
    pub model: String,
    /// UTC RFC 3339 time of this chunk.
    #[serde(default)]
    pub created_at: String,
    /// The next piece of text.
    #[serde(default)]
    pub response: String,
    /// The next piece of reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// True on the last chunk.
    #[serde(default)]
    pub done: bool,
    /// Why generation ended (`stop`, `length`, `load`, `unload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Conversation state for the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<i64>>,
    /// Timing and token counts (final chunk only).
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Tool calls, for models whose parser detects them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

with_metrics! {
    /// A [`GenerateResponse`] as read: its metrics' fields spelled out.
    #[derive(Deserialize)]
    struct GenerateResponseWire {
        #[serde(default)]
        model: String,
        #[serde(default)]
        created_at: String,
        #[serde(default)]
        response: String,
        #[serde(default)]
        thinking: Option<String>,
        #[serde(default)]
        done: bool,
        #[serde(default)]
        done_reason: Option<String>,
        #[serde(default)]
        context: Option<Vec<i64>>,
        #[serde(default)]
        tool_calls: Option<Vec<ToolCall>>,
    }
}

impl From<GenerateResponseWire> for GenerateResponse {
    fn from(wire: GenerateResponseWire) -> Self {
        Self {
            metrics: wire.metrics(),
            model: wire.model,
            created_at: wire.created_at,
            response: wire.response,
            thinking: wire.thinking,
            done: wire.done,
            done_reason: wire.done_reason,
            context: wire.context,
            tool_calls: wire.tool_calls,
        }
    }
}
