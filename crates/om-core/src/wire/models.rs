//! Model listing and management: tags, show, ps, version, copy, delete,
//! pull, push and create.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{Message, Options};

/// `details` of a model in `/api/tags`, `/api/show` and `/api/ps`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDetails {
    /// Base model, usually empty.
    #[serde(default)]
    pub parent_model: String,
    /// `gguf` or `safetensors`.
    #[serde(default)]
    pub format: String,
    /// Architecture family (`llama`, `qwen2`).
    #[serde(default)]
    pub family: String,
    /// All families; may be null.
    #[serde(default)]
    pub families: Option<Vec<String>>,
    /// `"7.6B"`, `"137M"`.
    #[serde(default)]
    pub parameter_size: String,
    /// `Q4_K_M`, `F16`, …
    #[serde(default)]
    pub quantization_level: String,
    /// Trained context length (recent servers, `/api/tags` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    /// Embedding width (recent servers, `/api/tags` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_length: Option<u64>,
}

/// One entry of `/api/tags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Display name (`llama3.2:latest`).
    #[serde(default)]
    pub name: String,
    /// Same as `name`.
    #[serde(default)]
    pub model: String,
    /// Manifest time, RFC 3339 with offset.
    #[serde(default)]
    pub modified_at: String,
    /// Bytes on disk.
    #[serde(default)]
    pub size: u64,
    /// 64 hex characters, no `sha256:` prefix.
    #[serde(default)]
    pub digest: String,
    /// Family, size, quantization.
    #[serde(default)]
    pub details: ModelDetails,
    /// What the model can do (recent servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

/// `GET /api/tags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Newest first; `[]` (never null) when empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub models: Vec<ModelEntry>,
}

/// `POST /api/show` request. `name` is the legacy spelling some clients send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShowRequest {
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Legacy spelling of `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Include long arrays in `model_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    /// A system prompt override to echo back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Options merged into the generated Modelfile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

impl ShowRequest {
    /// A request for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self { model: Some(model.into()), ..Self::default() }
    }

    /// The model asked for, from `model` or else `name`; empty when neither.
    pub fn target(&self) -> &str {
        self.model.as_deref().filter(|m| !m.is_empty()).or(self.name.as_deref()).unwrap_or("")
    }
}

/// `POST /api/show` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShowResponse {
    /// License text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Generated Modelfile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modelfile: Option<String>,
    /// Parameter lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
    /// Prompt template (contains `.Tools` for tool models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// System prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Family, size, quantization.
    #[serde(default)]
    pub details: ModelDetails,
    /// GGUF metadata; always present.
    #[serde(default)]
    pub model_info: Map<String, Value>,
    /// What the model can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// Manifest time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
}

impl ShowResponse {
    /// The trained context length: the first `model_info` key ending in
    /// `.context_length`, as clients find it.
    pub fn context_length(&self) -> Option<u64> {
        let arch = self.model_info.get("general.architecture").and_then(Value::as_str);
        if let Some(arch) = arch
            && let Some(n) = self.model_info.get(&format!("{arch}.context_length"))
        {
            return n.as_u64();
        }
        self.model_info
            .iter()
            .find(|(k, _)| k.ends_with(".context_length"))
            .and_then(|(_, v)| v.as_u64())
    }
}

/// One entry of `/api/ps`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningModel {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Same as `name`.
    #[serde(default)]
    pub model: String,
    /// Memory of the loaded runner, bytes.
    #[serde(default)]
    pub size: u64,
    /// 64 hex characters.
    #[serde(default)]
    pub digest: String,
    /// Family, size, quantization.
    #[serde(default)]
    pub details: ModelDetails,
    /// When the model unloads if idle.
    #[serde(default)]
    pub expires_at: String,
    /// Part of `size` in VRAM.
    #[serde(default)]
    pub size_vram: u64,
    /// `num_ctx` of the runner (recent servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
}

/// `GET /api/ps`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PsResponse {
    /// Loaded models; `[]` (never null) when none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub models: Vec<RunningModel>,
}

/// `GET /api/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// Semver text.
    pub version: String,
}

/// `POST /api/copy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// Existing model.
    #[serde(default)]
    pub source: String,
    /// New name.
    #[serde(default)]
    pub destination: String,
}

/// `DELETE /api/delete` (JSON body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Legacy spelling of `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl DeleteRequest {
    /// The model asked for, from `model` or else `name`.
    pub fn target(&self) -> &str {
        self.model.as_deref().filter(|m| !m.is_empty()).or(self.name.as_deref()).unwrap_or("")
    }
}

/// `POST /api/pull`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Legacy spelling of `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Allow plain HTTP registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Stream progress (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

impl PullRequest {
    /// The model asked for, from `model` or else `name`.
    pub fn target(&self) -> &str {
        self.model.as_deref().filter(|m| !m.is_empty()).or(self.name.as_deref()).unwrap_or("")
    }
}

/// `POST /api/push`.
pub type PushRequest = PullRequest;

/// `POST /api/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The new model's name.
    #[serde(default)]
    pub model: String,
    /// Base model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// File name → blob digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Map<String, Value>>,
    /// Template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// License text(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<Value>,
    /// System prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Seed messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Quantization to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<String>,
    /// Stream progress (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// One progress line of pull / push / create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressResponse {
    /// `pulling manifest`, `pulling 6a0746a1ec1a`, `success`, …
    #[serde(default)]
    pub status: String,
    /// `sha256:…` of the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Layer size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Bytes done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn show_context_length_scan() {
        let show: ShowResponse = serde_json::from_value(json!({
            "model_info": {"general.architecture": "llama", "llama.context_length": 131_072},
            "details": {}
        }))
        .unwrap();
        assert_eq!(show.context_length(), Some(131_072));
        let odd: ShowResponse =
            serde_json::from_value(json!({"model_info": {"bert.context_length": 2048}})).unwrap();
        assert_eq!(odd.context_length(), Some(2048));
    }

    #[test]
    fn null_lists_are_empty() {
        let l: ListResponse = serde_json::from_str(r#"{"models":null}"#).unwrap();
        assert!(l.models.is_empty());
        assert_eq!(serde_json::to_string(&PsResponse::default()).unwrap(), r#"{"models":[]}"#);
    }

    #[test]
    fn legacy_name_is_accepted() {
        let s: ShowRequest = serde_json::from_str(r#"{"name":"llama3.2"}"#).unwrap();
        assert_eq!(s.target(), "llama3.2");
        let d: DeleteRequest = serde_json::from_str(r#"{"model":"a","name":"b"}"#).unwrap();
        assert_eq!(d.target(), "a");
    }
}
