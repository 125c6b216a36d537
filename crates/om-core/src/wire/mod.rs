//! Ollama wire types (serde), shared by the client, the gateway and the simulator.
//!
//! Every type tolerates unknown fields on input and follows Ollama's output
//! rules: optional fields are omitted when absent and metrics are omitted when
//! zero (`omitempty` in Go). See `OLLAMA_API.md` §2–§7 for the protocol.

pub mod anthropic;
mod chat;
mod common;
mod embed;
mod generate;
mod line;
mod models;
pub mod openai;

pub use chat::{ChatRequest, ChatResponse};
pub use common::{
    ErrorBody, Format, KeepAlive, KeepAliveError, LOAD_TIME_OPTIONS, Message, Metrics, Options,
    Role, Think, ThinkLevel, Tool, ToolCall, ToolCallFunction, ToolFunction,
};
pub use embed::{EmbedInput, EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse};
pub use generate::{GenerateRequest, GenerateResponse};
pub use line::{LineEnd, is_json_line, line_end};
pub use models::{
    CopyRequest, CreateRequest, DeleteRequest, ListResponse, ModelDetails, ModelEntry,
    ProgressResponse, PsResponse, PullRequest, PushRequest, RunningModel, ShowRequest,
    ShowResponse, VersionResponse,
};

/// `skip_serializing_if` helper: Go's `omitempty` for optional numbers.
#[expect(clippy::ref_option, reason = "serde's skip_serializing_if passes a reference")]
pub(crate) fn is_zero_or_none(v: &Option<u64>) -> bool {
    v.is_none_or(|v| v == 0)
}

/// `skip_serializing_if` helper: Go's `omitempty` for booleans.
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}
