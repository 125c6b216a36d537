//! [`ApiKind`]: which HTTP API an endpoint speaks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The API an endpoint speaks. Ollama endpoints are asked in the native API;
/// OpenAI-compatible ones (llama.cpp's `llama-server`, vLLM, LM Studio,
/// OpenAI) through `/v1`, with every native call converted on the way
/// (`om_core::wire::openai`'s backend conversions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKind {
    /// The native Ollama API (`/api/*`).
    #[default]
    Ollama,
    /// The OpenAI API (`/v1/models`, `/v1/chat/completions`, `/v1/embeddings`).
    #[serde(rename = "openai")]
    OpenAi,
}

impl ApiKind {
    /// The name configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::OpenAi => "openai",
        }
    }

    /// True for [`ApiKind::OpenAi`].
    pub fn is_openai(self) -> bool {
        self == Self::OpenAi
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(serde_json::from_str::<ApiKind>("\"openai\"").unwrap(), ApiKind::OpenAi);
        assert_eq!(serde_json::to_string(&ApiKind::Ollama).unwrap(), "\"ollama\"");
        assert!(serde_json::from_str::<ApiKind>("\"vllm\"").is_err());
        assert_eq!(ApiKind::default().to_string(), "ollama");
    }
}
