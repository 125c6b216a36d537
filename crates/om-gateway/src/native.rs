//! The native inference routes (`/api/generate`, `/api/chat`, `/api/embed`,
//! `/api/embeddings`, `/api/show`): the body is inspected for routing and
//! forwarded unchanged; the answer is passed through as it comes.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::HeaderValue;
use http::request::Parts;
use http::{Response, StatusCode};
use om_core::{Error, RequestId};
use om_orchestrator::{Forward, Forwarded, Operation};

use crate::app::App;
use crate::body::Body;
use crate::inspect::{Inspected, inspect};
use crate::reply;

pub(crate) async fn model(
    app: &App,
    operation: Operation,
    parts: &Parts,
    body: Bytes,
    id: &RequestId,
) -> Response<Body> {
    let inspected = match inspect(operation, &body) {
        Ok(inspected) => inspected,
        Err(error) => return reply::from_error(&error, app.reveal()),
    };
    tracing::Span::current().record("model", inspected.model.as_str());
    let mut forward = forward(id, operation, inspected, body);
    forward.authorization = app.upstream_authorization(&parts.headers);
    match app.forward(forward).await {
        Ok(answer) => pass_through(answer, app.reveal()).await,
        Err(error) => {
            tracing::debug!(error = %error, kind = error.kind_name(), "not forwarded");
            reply::from_error(&error, app.reveal())
        }
    }
}

/// The orchestrator's request for an inspected body.
pub(crate) fn forward(
    id: &RequestId,
    operation: Operation,
    inspected: Inspected,
    body: Bytes,
) -> Forward {
    let mut forward = Forward::new(id.clone(), operation, inspected.model, body);
    forward.capabilities = inspected.capabilities;
    forward.prompt_tokens = inspected.prompt_tokens;
    forward.num_predict = inspected.num_predict;
    forward.sample = inspected.sample;
    forward.streaming = inspected.stream;
    forward
}

/// Answers with an instance's answer: a stream (NDJSON) line by line as it
/// comes, anything else — one JSON object, or nothing — whole, with its
/// length (its one line is the whole body: nothing is held back).
pub(crate) async fn pass_through(answer: Forwarded, reveal: bool) -> Response<Body> {
    let content_type = answer.content_type().cloned();
    if content_type.as_ref().is_some_and(is_ndjson) {
        return reply::with(StatusCode::OK, reply::NDJSON, Body::lines(answer, reveal));
    }
    let (bytes, error) = collect(answer).await;
    // Nothing has been sent yet: a failure part-way is answered as the
    // failure, never as a 200 with a cut body.
    if let Some(error) = error {
        return reply::from_error(&error, reveal);
    }
    let mut response = Response::new(Body::full(bytes));
    if let Some(content_type) = content_type {
        response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
    }
    response
}

fn is_ndjson(content_type: &HeaderValue) -> bool {
    content_type.as_bytes().starts_with(b"application/x-ndjson")
}

/// Every line of an answer joined, and the error it ended with, if any.
pub(crate) async fn collect(mut answer: Forwarded) -> (Bytes, Option<Error>) {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut error = None;
    while let Some(item) = answer.next().await {
        match item {
            // Usually one item: keep it without copying.
            Ok(line) => match first.take() {
                None if rest.is_empty() => first = Some(line),
                None => rest.extend_from_slice(&line),
                Some(head) => {
                    rest.extend_from_slice(&head);
                    rest.extend_from_slice(&line);
                }
            },
            Err(e) => error = Some(e),
        }
    }
    (first.unwrap_or_else(|| rest.freeze()), error)
}
