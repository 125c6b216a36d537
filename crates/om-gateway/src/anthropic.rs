//! The Anthropic Messages route (`/v1/messages`, and
//! `/v1/messages/count_tokens`): the request becomes a native chat with
//! `om_core::wire::anthropic`, is forwarded like any other, and its answer
//! is reshaped — one message object, or Anthropic's events as the native
//! lines arrive. What Claude Code and the `anthropic` SDKs call.

use http::request::Parts;
use http::{Response, StatusCode};
use om_core::wire::anthropic::{
    AnthropicError, MessageStreamer, MessagesRequest, MessagesResponse, StreamEvent, sse_event,
};
use om_core::wire::{ChatResponse, Think};
use om_core::{Capability, ModelName, RequestId};
use om_orchestrator::Operation;
use serde_json::json;

use crate::app::App;
use crate::body::Body;
use crate::inspect::inspect;
use crate::reply::{self, Face};
use crate::translate::{Events, decode, send, sse, whole};

pub(crate) async fn messages(
    app: &App,
    parts: &Parts,
    body: &[u8],
    id: &RequestId,
) -> Response<Body> {
    let mut native = match native(body) {
        Ok(native) => native,
        Err(error) => return reply::anthropic_error(&error),
    };
    // Ollama's Messages layer asks a model without the capability for no
    // thinking rather than failing (`OLLAMA_API.md` §2.6): Claude Code asks
    // for thinking whatever the model.
    if native.think.is_some_and(Think::is_enabled)
        && let Ok(model) = ModelName::parse(&native.model)
        && app.fleet().model_has(&model, Capability::Thinking) == Some(false)
    {
        native.think = None;
    }
    let stream = native.stream == Some(true);
    let message = format!("msg_{}", app.next_completion());
    let answer = match send(app, parts, id, Operation::Chat, &native, None, Face::Anthropic).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    if stream {
        return sse(answer, MessageEvents(MessageStreamer::new(message)), app.reveal());
    }
    match whole::<ChatResponse>(app, answer, Face::Anthropic).await {
        Ok(native) => {
            reply::json(StatusCode::OK, &MessagesResponse::from_native(&native, &message))
        }
        Err(response) => response,
    }
}

/// `count_tokens`: the estimate the router uses for the request's prompt
/// (no model runs; Ollama has no tokenizer endpoint to ask).
pub(crate) fn count_tokens(body: &[u8]) -> Response<Body> {
    let estimate = native(body).and_then(|native| {
        let body = serde_json::to_vec(&native)
            .map_err(|e| AnthropicError::new(500, format!("cannot encode the request: {e}")))?;
        inspect(Operation::Chat, &body)
            .map_err(|e| AnthropicError::new(e.http_status(), e.message()))
    });
    match estimate {
        Ok(inspected) => {
            reply::json(StatusCode::OK, &json!({ "input_tokens": inspected.prompt_tokens }))
        }
        Err(error) => reply::anthropic_error(&error),
    }
}

fn native(body: &[u8]) -> Result<om_core::wire::ChatRequest, AnthropicError> {
    let request: MessagesRequest = decode(body).map_err(AnthropicError::invalid_request)?;
    request.to_native()
}

/// Messages events from native chat lines.
struct MessageEvents(MessageStreamer);

impl Events for MessageEvents {
    fn line(&mut self, line: &[u8]) -> (String, bool) {
        match serde_json::from_slice::<ChatResponse>(line) {
            Ok(native) => {
                let mut out = String::new();
                for event in self.0.push(&native) {
                    push(&mut out, &event);
                }
                (out, native.done)
            }
            Err(e) => (self.error(&format!("unexpected line upstream: {e}")), true),
        }
    }

    fn error(&mut self, message: &str) -> String {
        let error = AnthropicError::new(500, message).error;
        let mut out = String::new();
        push(&mut out, &StreamEvent::Error { error });
        out
    }
}

fn push(out: &mut String, event: &StreamEvent) {
    match sse_event(event) {
        Ok(frame) => out.push_str(&frame),
        Err(e) => {
            let error = json!({"type":"error","error":{"type":"api_error",
                "message":format!("cannot encode an event: {e}")}});
            out.push_str("event: error\ndata: ");
            out.push_str(&error.to_string());
            out.push_str("\n\n");
        }
    }
}
