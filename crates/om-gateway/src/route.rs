//! The route table: Ollama's paths (gin's `404 page not found` and `405
//! method not allowed` included), the `OpenAI` ones, and the gateway's own.

use http::Method;
use om_orchestrator::Operation;

use crate::reply::Face;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/`: `Ollama is running`.
    Root,
    /// `/api/version`.
    Version,
    /// `/api/tags`.
    Tags,
    /// `/api/ps`.
    Ps,
    /// generate, chat, embed, embeddings, show: routed by model.
    Model(Operation),
    /// pull, push, create, copy, delete: to a named endpoint.
    Manage(Operation),
    /// `/v1/chat/completions`.
    OpenAiChat,
    /// `/v1/completions`.
    OpenAiCompletions,
    /// `/v1/embeddings`.
    OpenAiEmbeddings,
    /// `/v1/models`.
    OpenAiModels,
    /// `/v1/models/{model}`.
    OpenAiModel(String),
    /// `/v1/responses`.
    OpenAiResponses,
    /// `/v1/messages` (Anthropic).
    AnthropicMessages,
    /// `/v1/messages/count_tokens` (Anthropic).
    AnthropicCountTokens,
    /// `/metrics`.
    Metrics,
    /// `/api/meta/status`.
    Status,
}

const GET_HEAD: &[Method] = &[Method::GET, Method::HEAD];
const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const DELETE: &[Method] = &[Method::DELETE];

impl Route {
    /// The route at `path` and the methods it allows; `None` for an
    /// unknown path.
    pub(crate) fn resolve(path: &str) -> Option<(Self, &'static [Method])> {
        let route = match path {
            "/" => (Self::Root, GET_HEAD),
            "/api/version" => (Self::Version, GET_HEAD),
            "/api/tags" => (Self::Tags, GET_HEAD),
            "/api/ps" => (Self::Ps, GET),
            "/api/generate" => (Self::Model(Operation::Generate), POST),
            "/api/chat" => (Self::Model(Operation::Chat), POST),
            "/api/embed" => (Self::Model(Operation::Embed), POST),
            "/api/embeddings" => (Self::Model(Operation::Embeddings), POST),
            "/api/show" => (Self::Model(Operation::Show), POST),
            "/api/pull" => (Self::Manage(Operation::Pull), POST),
            "/api/push" => (Self::Manage(Operation::Push), POST),
            "/api/create" => (Self::Manage(Operation::Create), POST),
            "/api/copy" => (Self::Manage(Operation::Copy), POST),
            "/api/delete" => (Self::Manage(Operation::Delete), DELETE),
            "/v1/chat/completions" => (Self::OpenAiChat, POST),
            "/v1/completions" => (Self::OpenAiCompletions, POST),
            "/v1/embeddings" => (Self::OpenAiEmbeddings, POST),
            "/v1/models" => (Self::OpenAiModels, GET),
            "/v1/responses" => (Self::OpenAiResponses, POST),
            "/v1/messages" => (Self::AnthropicMessages, POST),
            "/v1/messages/count_tokens" => (Self::AnthropicCountTokens, POST),
            "/metrics" => (Self::Metrics, GET),
            "/api/meta/status" => (Self::Status, GET),
            _ => {
                // gin's `:model` is one non-empty segment.
                let model = path
                    .strip_prefix("/v1/models/")
                    .filter(|rest| !rest.is_empty() && !rest.contains('/'))?;
                (Self::OpenAiModel(percent_decode(model)), GET)
            }
        };
        Some(route)
    }

    /// Open without a token: the health checks of load balancers and
    /// clients (`GET /`, `HEAD /`).
    pub(crate) fn is_public(&self) -> bool {
        *self == Self::Root
    }

    /// The shape its answers, errors included, take.
    pub(crate) fn face(&self) -> Face {
        match self {
            Self::OpenAiChat
            | Self::OpenAiCompletions
            | Self::OpenAiEmbeddings
            | Self::OpenAiModels
            | Self::OpenAiModel(_)
            | Self::OpenAiResponses => Face::OpenAi,
            Self::AnthropicMessages | Self::AnthropicCountTokens => Face::Anthropic,
            _ => Face::Ollama,
        }
    }

    /// Carries a request body worth reading.
    pub(crate) fn has_body(&self) -> bool {
        matches!(
            self,
            Self::Model(_)
                | Self::Manage(_)
                | Self::OpenAiChat
                | Self::OpenAiCompletions
                | Self::OpenAiEmbeddings
                | Self::OpenAiResponses
                | Self::AnthropicMessages
                | Self::AnthropicCountTokens
        )
    }
}

/// Decodes `%XX` escapes in a path segment (model names may carry `:`).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_methods() {
        assert_eq!(Route::resolve("/api/chat").unwrap().0, Route::Model(Operation::Chat));
        assert_eq!(Route::resolve("/api/delete").unwrap().1, DELETE);
        assert_eq!(
            Route::resolve("/v1/models/llama3.2%3Alatest").unwrap().0,
            Route::OpenAiModel("llama3.2:latest".to_owned())
        );
        assert!(Route::resolve("/v1/models/a/b").is_none());
        assert!(Route::resolve("/v1/models/").is_none());
        assert!(Route::resolve("/api/nope").is_none());
        assert!(Route::resolve("/").unwrap().0.is_public());
        assert!(!Route::Metrics.is_public());
        assert_eq!(Route::OpenAiModels.face(), Face::OpenAi);
        assert_eq!(Route::Tags.face(), Face::Ollama);
        assert_eq!(Route::resolve("/v1/messages").unwrap().0.face(), Face::Anthropic);
        assert_eq!(Route::resolve("/v1/responses").unwrap().0.face(), Face::OpenAi);
        assert_eq!(Face::of_path("/v1/messages/count_tokens"), Face::Anthropic);
    }
}
