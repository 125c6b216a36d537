//! The OpenAI-compatible routes (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/models`): each request is converted to its native
//! form with `om_core::wire::openai` — as Ollama's own `/v1` layer does —,
//! forwarded like a native one (with the request as written, which an
//! OpenAI-compatible backend gets instead, so that nothing the native form
//! cannot say is lost), and its answer reshaped: one JSON object, or SSE
//! events as the native lines arrive, ended by `data: [DONE]`.

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use om_core::wire::openai::{
    ChatChunker, ChatCompletion, ChatCompletionRequest, Completion, CompletionChunker,
    CompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelList, ModelObject, OpenAiError,
    SSE_DONE, sse_data,
};
use om_core::wire::{ChatResponse, EmbedResponse, GenerateResponse};
use om_core::{ModelName, RequestId};
use om_orchestrator::Operation;
use serde::Serialize;

use crate::app::App;
use crate::body::Body;
use crate::reply::{self, Face};
use crate::translate::{Events, decode, now_secs, send, sse, whole};

pub(crate) async fn chat(app: &App, parts: &Parts, body: &Bytes, id: &RequestId) -> Response<Body> {
    let request: ChatCompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(message) => return reply::openai_error(&invalid(message)),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(error) => return reply::openai_error(&error),
    };
    let completion = format!("chatcmpl-{}", app.next_completion());
    let answer =
        match send(app, parts, id, Operation::Chat, &native, Some(body), Face::OpenAi).await {
            Ok(answer) => answer,
            Err(response) => return response,
        };
    let created = now_secs();
    if request.stream {
        let chunker = ChatChunker::new(completion, created, request.include_usage());
        return sse(answer, ChatEvents(chunker), app.reveal());
    }
    match whole::<ChatResponse>(app, answer, Face::OpenAi).await {
        Ok(native) => reply::openai_json(
            StatusCode::OK,
            &ChatCompletion::from_native(&native, &completion, created),
        ),
        Err(response) => response,
    }
}

pub(crate) async fn completions(
    app: &App,
    parts: &Parts,
    body: &Bytes,
    id: &RequestId,
) -> Response<Body> {
    let request: CompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(message) => return reply::openai_error(&invalid(message)),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(error) => return reply::openai_error(&error),
    };
    let completion = format!("cmpl-{}", app.next_completion());
    let answer =
        match send(app, parts, id, Operation::Generate, &native, Some(body), Face::OpenAi).await {
            Ok(answer) => answer,
            Err(response) => return response,
        };
    if request.stream {
        let chunker = CompletionChunker::new(completion, request.include_usage());
        return sse(answer, CompletionEvents(chunker), app.reveal());
    }
    match whole::<GenerateResponse>(app, answer, Face::OpenAi).await {
        Ok(native) => reply::openai_json(
            StatusCode::OK,
            &Completion::from_native(&native, &completion, now_secs()),
        ),
        Err(response) => response,
    }
}

pub(crate) async fn embeddings(
    app: &App,
    parts: &Parts,
    body: &Bytes,
    id: &RequestId,
) -> Response<Body> {
    let request: EmbeddingRequest = match decode(body) {
        Ok(request) => request,
        Err(message) => return reply::openai_error(&invalid(message)),
    };
    let (native, encoding) =
        match request.to_native().and_then(|native| Ok((native, request.encoding()?))) {
            Ok(converted) => converted,
            Err(error) => return reply::openai_error(&error),
        };
    let answer =
        match send(app, parts, id, Operation::Embed, &native, Some(body), Face::OpenAi).await {
            Ok(answer) => answer,
            Err(response) => return response,
        };
    match whole::<EmbedResponse>(app, answer, Face::OpenAi).await {
        Ok(native) => {
            reply::openai_json(StatusCode::OK, &EmbeddingResponse::from_native(&native, encoding))
        }
        Err(response) => response,
    }
}

pub(crate) fn models(app: &App) -> Response<Body> {
    reply::openai_json(StatusCode::OK, &ModelList::from_native(&app.fleet().list_models()))
}

pub(crate) fn model(app: &App, requested: &str) -> Response<Body> {
    let wanted = ModelName::parse(requested).ok();
    let list = app.fleet().list_models();
    let found = list.models.iter().find(|entry| {
        wanted.as_ref().is_some_and(|w| ModelName::parse(&entry.name).is_ok_and(|n| n == *w))
    });
    match found {
        Some(entry) => {
            let mut object = ModelObject::from_entry(entry);
            requested.clone_into(&mut object.id);
            reply::openai_json(StatusCode::OK, &object)
        }
        None => {
            reply::openai_error(&OpenAiError::new(404, format!("model '{requested}' not found")))
        }
    }
}

/// A decode failure as a 400 `invalid_request_error`.
fn invalid(message: String) -> OpenAiError {
    OpenAiError::invalid_request(message)
}

/// `/v1/chat/completions` chunks from native chat lines.
struct ChatEvents(ChatChunker);

impl Events for ChatEvents {
    fn line(&mut self, line: &[u8]) -> (String, bool) {
        match serde_json::from_slice::<ChatResponse>(line) {
            Ok(native) => {
                let mut out = String::new();
                for chunk in self.0.push(&native) {
                    push_event(&mut out, &chunk);
                }
                done(out, native.done)
            }
            Err(e) => (error_text(&format!("unexpected line upstream: {e}")), true),
        }
    }

    fn error(&mut self, message: &str) -> String {
        error_text(message)
    }
}

/// `/v1/completions` chunks from native generate lines.
struct CompletionEvents(CompletionChunker);

impl Events for CompletionEvents {
    fn line(&mut self, line: &[u8]) -> (String, bool) {
        match serde_json::from_slice::<GenerateResponse>(line) {
            Ok(native) => {
                let mut out = String::new();
                for chunk in self.0.push(&native, now_secs()) {
                    push_event(&mut out, &chunk);
                }
                done(out, native.done)
            }
            Err(e) => (error_text(&format!("unexpected line upstream: {e}")), true),
        }
    }

    fn error(&mut self, message: &str) -> String {
        error_text(message)
    }
}

/// Ends a complete answer's events with `data: [DONE]`.
fn done(mut out: String, done: bool) -> (String, bool) {
    if done {
        out.push_str(SSE_DONE);
    }
    (out, done)
}

fn push_event<T: Serialize>(out: &mut String, value: &T) {
    match sse_data(value) {
        Ok(event) => out.push_str(&event),
        Err(e) => out.push_str(&error_text(&format!("cannot encode a chunk: {e}"))),
    }
}

/// Ollama has no `/v1` form for a failure mid-stream; an `OpenAI` error
/// object in a data event is what the SDKs recognise.
fn error_text(message: &str) -> String {
    sse_data(&OpenAiError::new(500, message))
        .unwrap_or_else(|_| "data: {\"error\":{\"message\":\"error\"}}\n\n".to_owned())
}
