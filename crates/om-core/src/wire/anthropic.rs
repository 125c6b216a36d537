//! The Anthropic Messages layer (`/v1/messages`): the request, the whole
//! answer, the stream's events and the error body, with pure conversions to
//! and from the native chat types — the route Claude Code and the
//! `anthropic` SDKs call, and that Ollama serves since 0.14.
//!
//! As with `/v1` ([`super::openai`]), the request becomes a native
//! [`ChatRequest`](super::ChatRequest) and the native answer is reshaped:
//!
//! - requests: [`MessagesRequest::to_native`] (system text, text, images,
//!   tool use and tool results, thinking, sampling options);
//! - whole answers: [`MessagesResponse::from_native`];
//! - streams: [`MessageStreamer`] turns each native chunk into the events
//!   Anthropic sends, in its order (`message_start`, then per content block
//!   `content_block_start`, deltas, `content_block_stop`, then
//!   `message_delta` with the stop reason and usage, then `message_stop`),
//!   and [`sse_event`] frames them with their `event:` line;
//! - errors: [`AnthropicError::new`] reshapes a native status and message.
//!
//! ```
//! use om_core::wire::anthropic::MessagesRequest;
//!
//! let request: MessagesRequest = serde_json::from_str(
//!     r#"{"model":"llama3.2","max_tokens":64,"system":"Be brief.",
//!         "messages":[{"role":"user","content":"hi"}]}"#,
//! )?;
//! let native = request.to_native()?;
//! assert_eq!(native.messages.len(), 2);
//! assert_eq!(native.options.as_ref().and_then(|o| o.num_predict()), Some(64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod request;
mod response;
mod stream;

pub use error::{AnthropicError, AnthropicErrorDetail};
pub use request::{
    ContentBlock, ImageSource, InputContent, InputMessage, MessagesRequest, SystemPrompt,
    TextBlock, ThinkingConfig, ToolDefinition, ToolResultContent,
};
pub use response::{MessagesResponse, OutputBlock, StopReason, Usage};
pub use stream::{BlockDelta, MessageDeltaBody, MessageStreamer, StreamEvent, sse_event};
