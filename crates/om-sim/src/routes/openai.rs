//! The OpenAI-compatible routes (`OLLAMA_API.md` §7): each request is
//! converted to its native form with `om_core::wire::openai`, run through the
//! same native path, and its output reshaped — as Ollama's middleware does.

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{Response, StatusCode};
use om_core::wire::openai::{
    ChatChunker, ChatCompletion, ChatCompletionRequest, Completion, CompletionChunker,
    CompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelList, ModelObject, OpenAiError,
    SSE_DONE, sse_data,
};
use om_core::wire::{ChatResponse, GenerateResponse};
use serde::Serialize;

use super::events::{self, Event, Events, Folded, Merge, Run};
use super::{App, chat, embed, generate, models};
use crate::error::{ApiError, Dropped};
use crate::request;
use crate::response::{self, Body, Chunk, Reply};

/// An OpenAI-shaped error answer with the native status.
fn failure(err: &OpenAiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response::json_line(status, err)
}

fn reshape(err: &ApiError) -> OpenAiError {
    OpenAiError::new(err.status.as_u16(), err.message.clone())
}

/// Decodes a `/v1` body; decode errors are 400 `invalid_request_error`.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OpenAiError> {
    request::decode(body).map_err(|err| reshape(&err))
}

/// Unix seconds now, on the simulator's clock.
fn now_secs(app: &App) -> i64 {
    i64::try_from(app.shared().clock.now_unix_nanos().div_euclid(1_000_000_000)).unwrap_or(0)
}

/// One SSE event frame.
fn sse<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(
        sse_data(value)
            .unwrap_or_else(|err| format!("data: {{\"error\":{:?}}}\n\n", err.to_string())),
    )
}

/// The frame the `malformed_line_after_tokens` fault writes on `/v1`.
const MALFORMED: &[u8] = b"data: {\"id\":\"cut off\n\n";

/// Answers with an SSE stream; `frames` turns each native chunk into its
/// `/v1` events. The first event is awaited before the head is sent, so
/// errors before any output keep their status.
async fn sse_stream<T, F>(mut events: Events<T>, mut frames: F) -> Reply
where
    T: Send + 'static,
    F: FnMut(&T) -> Vec<Chunk> + Send + 'static,
{
    let first = match events.next().await {
        Some(Event::Error(message)) => return Ok(failure(&OpenAiError::new(500, message))),
        Some(Event::Disconnect) => return Err(Dropped),
        Some(first) => first,
        None => return Ok(failure(&OpenAiError::new(500, "generation produced nothing"))),
    };
    let body = stream::once(async move { first })
        .chain(events)
        .map(move |event| match event {
            Event::Chunk(native) => frames(&native),
            Event::Malformed => vec![Ok(Bytes::from_static(MALFORMED))],
            // Ollama has no `/v1` form for this; an OpenAI error object in a
            // data event is what the OpenAI SDKs recognise.
            Event::Error(message) => vec![Ok(sse(&OpenAiError::new(500, message)))],
            Event::Disconnect => vec![Err(Dropped)],
        })
        .flat_map(stream::iter);
    Ok(response::stream(response::SSE, body))
}

/// Runs a generation to the end for a non-streaming `/v1` answer.
async fn folded<T: Merge>(events: Events<T>) -> Result<T, Reply> {
    match events::fold(events).await {
        Folded::Object(object) => Ok(object),
        Folded::Failed(err) => Err(Ok(failure(&reshape(&err)))),
        Folded::Malformed => Err(Ok(response::stream(
            "application/json",
            stream::once(async { Ok(Bytes::from_static(b"{\"id\":\"cut off\n")) }),
        ))),
        Folded::Disconnect => Err(Err(Dropped)),
    }
}

pub(crate) async fn chat(app: &App, body: &[u8]) -> Reply {
    let request: ChatCompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(err) => return Ok(failure(&err)),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(err) => return Ok(failure(&err)),
    };
    let id = format!("chatcmpl-{}", app.next_request() % 999);
    let created = now_secs(app);
    let run = match chat::start(app, native).await {
        Ok(run) => run,
        Err(err) => return Ok(failure(&reshape(&err))),
    };
    let whole = |native: &ChatResponse| {
        Ok(response::json_line(StatusCode::OK, &ChatCompletion::from_native(native, &id, created)))
    };
    match run {
        Run::Single(single) => whole(&single),
        Run::Stream(events) if request.stream => {
            let mut chunker = ChatChunker::new(id.clone(), created, request.include_usage());
            sse_stream(events, move |native: &ChatResponse| {
                let mut frames: Vec<Chunk> =
                    chunker.push(native).iter().map(|c| Ok(sse(c))).collect();
                if native.done {
                    frames.push(Ok(Bytes::from_static(SSE_DONE.as_bytes())));
                }
                frames
            })
            .await
        }
        Run::Stream(events) => match folded(events).await {
            Ok(merged) => whole(&merged),
            Err(reply) => reply,
        },
    }
}

pub(crate) async fn completions(app: &App, body: &[u8]) -> Reply {
    let request: CompletionRequest = match decode(body) {
        Ok(request) => request,
        Err(err) => return Ok(failure(&err)),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(err) => return Ok(failure(&err)),
    };
    let id = format!("cmpl-{}", app.next_request() % 999);
    let run = match generate::start(app, native).await {
        Ok(run) => run,
        Err(err) => return Ok(failure(&reshape(&err))),
    };
    let whole = |native: &GenerateResponse| {
        let created = now_secs(app);
        Ok(response::json_line(StatusCode::OK, &Completion::from_native(native, &id, created)))
    };
    match run {
        Run::Single(single) => whole(&single),
        Run::Stream(events) if request.stream => {
            let mut chunker = CompletionChunker::new(id.clone(), request.include_usage());
            let app = app.clone();
            sse_stream(events, move |native: &GenerateResponse| {
                // Ollama stamps each completion chunk with the time it is sent.
                let mut frames: Vec<Chunk> =
                    chunker.push(native, now_secs(&app)).iter().map(|c| Ok(sse(c))).collect();
                if native.done {
                    frames.push(Ok(Bytes::from_static(SSE_DONE.as_bytes())));
                }
                frames
            })
            .await
        }
        Run::Stream(events) => match folded(events).await {
            Ok(merged) => whole(&merged),
            Err(reply) => reply,
        },
    }
}

pub(crate) async fn embeddings(app: &App, body: &[u8]) -> Reply {
    let request: EmbeddingRequest = match decode(body) {
        Ok(request) => request,
        Err(err) => return Ok(failure(&err)),
    };
    let (native, encoding) = match request.to_native().and_then(|n| Ok((n, request.encoding()?))) {
        Ok(ok) => ok,
        Err(err) => return Ok(failure(&err)),
    };
    Ok(match embed::run_embed(app, &native).await {
        Ok(done) => {
            response::json_line(StatusCode::OK, &EmbeddingResponse::from_native(&done, encoding))
        }
        Err(err) => failure(&reshape(&err)),
    })
}

pub(crate) fn models(app: &App) -> Response<Body> {
    response::json_line(StatusCode::OK, &ModelList::from_native(&models::list(app)))
}

pub(crate) fn model(app: &App, model: &str) -> Response<Body> {
    match app.find_text(model) {
        Some(installed) => {
            let show = models::describe(&installed, None);
            response::json_line(StatusCode::OK, &ModelObject::from_show(&show, model))
        }
        None => failure(&reshape(&ApiError::model_not_found(model))),
    }
}
