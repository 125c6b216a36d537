//! The OpenAI-compatible layer (`/v1/*`): request and response shapes, SSE
//! chunk objects, the error body, and pure conversions to and from the native
//! wire types (`OLLAMA_API.md` §7).
//!
//! Ollama implements `/v1` as a middleware: it decodes the `/v1` body,
//! converts it to a native request, runs the native handler and rewrites its
//! output. The conversions here follow that split, so the simulator and the
//! gateway share one implementation:
//!
//! - requests: [`ChatCompletionRequest::to_native`],
//!   [`CompletionRequest::to_native`], [`EmbeddingRequest::to_native`];
//! - whole responses: [`ChatCompletion::from_native`],
//!   [`Completion::from_native`], [`EmbeddingResponse::from_native`],
//!   [`ModelList::from_native`], [`ModelObject::from_show`];
//! - streams: [`ChatChunker`] and [`CompletionChunker`] turn each native chunk
//!   into the SSE chunk objects Ollama would send, and [`sse_data`] /
//!   [`SSE_DONE`] frame them;
//! - the Responses API (`/v1/responses`): [`ResponsesRequest::to_native`],
//!   [`ResponseObject::from_native`] and [`ResponsesStreamer`];
//! - the other direction, to OpenAI-compatible backends: [`ChatCompletionRequest::from_native`],
//!   [`NativeStream`], [`native_whole`], [`BackendModel`];
//! - errors: [`OpenAiError::new`] reshapes a native status and message.
//!
//! ```
//! use om_core::wire::openai::ChatCompletionRequest;
//!
//! let request: ChatCompletionRequest = serde_json::from_str(
//!     r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"max_tokens":8}"#,
//! )?;
//! let native = request.to_native()?;
//! assert_eq!(native.stream, Some(false));
//! assert_eq!(native.options.as_ref().and_then(|o| o.num_predict()), Some(8));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod chat;
mod common;
mod completion;
mod embedding;
mod error;
mod models;
mod responses;

pub use backend::{
    AnswerShape, BackendModel, NativeStream, chat_for_generate, embeddings_request,
    is_plain_completion, native_embed, native_embeddings, native_whole,
};
pub(crate) use chat::is_base64;
pub use chat::{
    ChatChoice, ChatChunker, ChatCompletion, ChatCompletionChunk, ChatCompletionMessage,
    ChatCompletionRequest, ChatDelta, ChatMessage, ChatToolCall, ChatToolCallFunction, ChunkChoice,
    ContentPart, ImageUrl, InputAudio, MessageContent, Reasoning, ResponseFormat,
    ResponseJsonSchema,
};
pub use common::{SSE_DONE, Stop, StreamOptions, Usage, sse_data};
pub use completion::{
    Completion, CompletionChoice, CompletionChunk, CompletionChunker, CompletionRequest,
};
pub use embedding::{
    EmbeddingData, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EmbeddingVector,
    EncodingFormat,
};
pub use error::{OpenAiError, OpenAiErrorDetail};
pub use models::{ModelList, ModelObject};
pub use responses::{
    InputContent, InputItem, InputPart, OutputItem, OutputText, ReasoningConfig, ResponseEvent,
    ResponseObject, ResponseUsage, ResponsesInput, ResponsesRequest, ResponsesStreamer,
    SummaryText, TextConfig, TextFormat,
};
