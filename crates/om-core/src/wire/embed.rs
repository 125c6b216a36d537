//! `POST /api/embed` and the legacy `POST /api/embeddings`.

use serde::{Deserialize, Serialize};

use super::common::{KeepAlive, Options};

/// `input` of `/api/embed`: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbedInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

impl EmbedInput {
    /// The texts, in order.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// True when there is nothing to embed (`""` or `[]`): a load-only request.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::One(s) => s.is_empty(),
            Self::Many(v) => v.is_empty(),
        }
    }
}

/// An `/api/embed` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    /// The model.
    #[serde(default)]
    pub model: String,
    /// The texts; absent or empty means "just load the model".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<EmbedInput>,
    /// Truncate inputs to the context (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
    /// Cut vectors to this length (then re-normalise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
    /// How long to keep the model loaded afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    /// Model options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

/// An `/api/embed` response: unit-length vectors in input order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// The model as requested.
    #[serde(default)]
    pub model: String,
    /// One vector per input.
    #[serde(default)]
    pub embeddings: Vec<Vec<f32>>,
    /// Nanoseconds, omitted when zero.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub total_duration: Option<u64>,
    /// Nanoseconds, omitted when zero.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub load_duration: Option<u64>,
    /// Total input tokens, omitted when zero.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub prompt_eval_count: Option<u64>,
}

/// A legacy `/api/embeddings` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// The model.
    #[serde(default)]
    pub model: String,
    /// The one text; empty means "just load the model".
    #[serde(default)]
    pub prompt: String,
    /// Model options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// How long to keep the model loaded afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
}

/// A legacy `/api/embeddings` response: one vector, not normalised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    /// The vector.
    #[serde(default)]
    pub embedding: Vec<f64>,
}
