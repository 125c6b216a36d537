//! The OpenAI-compatible routes (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/models`): each request is converted to its native
//! form with `om_core::wire::openai` — as Ollama's own `/v1` layer does —,
//! forwarded like a native one, and its answer reshaped: one JSON object,
//! or SSE events as the native lines arrive, ended by `data: [DONE]`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::request::Parts;
use http::{Response, StatusCode};
use om_core::wire::openai::{
    ChatChunker, ChatCompletion, ChatCompletionRequest, Completion, CompletionChunker,
    CompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelList, ModelObject, OpenAiError,
    SSE_DONE, sse_data,
};
use om_core::wire::{ChatResponse, EmbedResponse, GenerateResponse};
use om_core::{ModelName, RequestId};
use om_orchestrator::{Forwarded, Operation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::body::Body;
use crate::inspect::inspect;
use crate::native::{collect, forward};
use crate::reply;

pub(crate) async fn chat(app: &App, parts: &Parts, body: &[u8], id: &RequestId) -> Response<Body> {
    let request: ChatCompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(error) => return reply::openai_error(&error),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(error) => return reply::openai_error(&error),
    };
    let completion = format!("chatcmpl-{}", app.next_completion());
    let answer = match send(app, parts, id, Operation::Chat, &native).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let created = now_secs();
    if request.stream {
        let chunker = ChatChunker::new(completion, created, request.include_usage());
        let translate = Translate::Chat(chunker);
        return sse(Sse { answer, translate, ended: false, reveal: app.reveal() });
    }
    match whole::<ChatResponse>(app, answer).await {
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
    body: &[u8],
    id: &RequestId,
) -> Response<Body> {
    let request: CompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(error) => return reply::openai_error(&error),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(error) => return reply::openai_error(&error),
    };
    let completion = format!("cmpl-{}", app.next_completion());
    let answer = match send(app, parts, id, Operation::Generate, &native).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    if request.stream {
        let chunker = CompletionChunker::new(completion, request.include_usage());
        let translate = Translate::Completion(chunker);
        return sse(Sse { answer, translate, ended: false, reveal: app.reveal() });
    }
    match whole::<GenerateResponse>(app, answer).await {
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
    body: &[u8],
    id: &RequestId,
) -> Response<Body> {
    let request: EmbeddingRequest = match decode(body) {
        Ok(request) => request,
        Err(error) => return reply::openai_error(&error),
    };
    let (native, encoding) =
        match request.to_native().and_then(|native| Ok((native, request.encoding()?))) {
            Ok(converted) => converted,
            Err(error) => return reply::openai_error(&error),
        };
    let answer = match send(app, parts, id, Operation::Embed, &native).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    match whole::<EmbedResponse>(app, answer).await {
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

/// Decodes a `/v1` body; decode errors are 400 `invalid_request_error`.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, OpenAiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(OpenAiError::invalid_request("missing request body"));
    }
    serde_json::from_slice(body).map_err(|e| OpenAiError::invalid_request(e.to_string()))
}

/// Forwards the native form of a `/v1` request; a failure before the first
/// line is answered in the `OpenAI` shape.
async fn send<T: Serialize>(
    app: &App,
    parts: &Parts,
    id: &RequestId,
    operation: Operation,
    native: &T,
) -> Result<Forwarded, Response<Body>> {
    let body = serde_json::to_vec(native).map_err(|e| {
        reply::openai_error(&OpenAiError::new(500, format!("cannot encode the request: {e}")))
    })?;
    let inspected =
        inspect(operation, &body).map_err(|e| reply::openai_from_error(&e, app.reveal()))?;
    tracing::Span::current().record("model", inspected.model.as_str());
    let mut request = forward(id, operation, inspected, Bytes::from(body));
    request.authorization = app.upstream_authorization(&parts.headers);
    app.forward(request).await.map_err(|error| reply::openai_from_error(&error, app.reveal()))
}

/// The one native object of a non-streamed answer.
async fn whole<T: DeserializeOwned>(app: &App, answer: Forwarded) -> Result<T, Response<Body>> {
    let (bytes, error) = collect(answer).await;
    if let Some(error) = error {
        return Err(reply::openai_from_error(&error, app.reveal()));
    }
    if let Some(message) = error_message(&bytes) {
        return Err(reply::openai_error(&OpenAiError::new(500, message)));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        reply::openai_error(&OpenAiError::new(500, format!("unexpected answer upstream: {e}")))
    })
}

fn sse(stream: Sse) -> Response<Body> {
    let mut response = reply::with(StatusCode::OK, reply::SSE, Body::stream(stream));
    response.headers_mut().insert(http::header::CACHE_CONTROL, "no-cache".parse().expect("valid"));
    response
}

/// How native lines become `/v1` chunks.
enum Translate {
    Chat(ChatChunker),
    Completion(CompletionChunker),
}

/// A native answer as SSE events, one group per native line, as it comes.
struct Sse {
    answer: Forwarded,
    translate: Translate,
    ended: bool,
    /// The error event may say what the gateway knows of its backends.
    reveal: bool,
}

impl Sse {
    /// The events for one native line; `None` ends the stream after them.
    fn events(&mut self, line: &[u8]) -> (Bytes, bool) {
        if let Some(message) = error_message(line) {
            return (error_event(&message), true);
        }
        let mut out = String::new();
        let done = match &mut self.translate {
            Translate::Chat(chunker) => match serde_json::from_slice::<ChatResponse>(line) {
                Ok(native) => {
                    for chunk in chunker.push(&native) {
                        push_event(&mut out, &chunk);
                    }
                    native.done
                }
                Err(e) => return (error_event(&format!("unexpected line upstream: {e}")), true),
            },
            Translate::Completion(chunker) => {
                match serde_json::from_slice::<GenerateResponse>(line) {
                    Ok(native) => {
                        for chunk in chunker.push(&native, now_secs()) {
                            push_event(&mut out, &chunk);
                        }
                        native.done
                    }
                    Err(e) => {
                        return (error_event(&format!("unexpected line upstream: {e}")), true);
                    }
                }
            }
        };
        if done {
            out.push_str(SSE_DONE);
        }
        (Bytes::from(out), done)
    }
}

impl Stream for Sse {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(this.answer.poll_next_unpin(cx)) {
                Some(Ok(line)) => {
                    let (events, ended) = this.events(&line);
                    this.ended = ended;
                    if !events.is_empty() {
                        return Poll::Ready(Some(events));
                    }
                }
                // Ollama has no `/v1` form for a failure mid-stream; an
                // OpenAI error object in a data event is what the SDKs
                // recognise.
                Some(Err(error)) => {
                    this.ended = true;
                    let message = reply::public_message(&error, this.reveal);
                    return Poll::Ready(Some(error_event(&message)));
                }
                None => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

fn push_event<T: Serialize>(out: &mut String, value: &T) {
    match sse_data(value) {
        Ok(event) => out.push_str(&event),
        Err(e) => out.push_str(&error_text(&format!("cannot encode a chunk: {e}"))),
    }
}

fn error_event(message: &str) -> Bytes {
    Bytes::from(error_text(message))
}

fn error_text(message: &str) -> String {
    sse_data(&OpenAiError::new(500, message))
        .unwrap_or_else(|_| "data: {\"error\":{\"message\":\"error\"}}\n\n".to_owned())
}

/// The message of an `{"error": …}` line.
fn error_message(line: &[u8]) -> Option<String> {
    if !line.starts_with(b"{\"error\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct ErrorLine {
        error: serde_json::Value,
    }
    let parsed: ErrorLine = serde_json::from_slice(line).ok()?;
    Some(match parsed.error {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

fn now_secs() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
