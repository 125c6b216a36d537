//! Building responses: Ollama's texts and JSON shapes, its error bodies,
//! and the `OpenAI` error shape for `/v1`.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use om_core::wire::openai::OpenAiError;
use serde::Serialize;

use crate::body::Body;

/// gin's `c.JSON` content type.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
/// A streamed native answer.
pub(crate) const NDJSON: HeaderValue = HeaderValue::from_static("application/x-ndjson");
/// gin's `c.String` content type.
pub(crate) const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// An `OpenAI` stream.
pub(crate) const SSE: HeaderValue = HeaderValue::from_static("text/event-stream");
/// The Prometheus text exposition format.
pub(crate) const PROMETHEUS: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// A response with this status, content type and body.
pub(crate) fn with(status: StatusCode, content_type: HeaderValue, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// A plain-text response (`Ollama is running`, `404 page not found`).
pub(crate) fn text(status: StatusCode, text: &'static str) -> Response<Body> {
    with(status, TEXT, Body::full(Bytes::from_static(text.as_bytes())))
}

/// A JSON response as gin writes it: one object, no trailing newline.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with(status, JSON, Body::full(bytes)),
        Err(err) => native_error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// Ollama's error response: `{"error": message}`.
pub(crate) fn native_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string();
    with(status, JSON, Body::full(body))
}

/// The status to answer an error with.
pub(crate) fn status_of(error: &om_core::Error) -> StatusCode {
    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An orchestrator error as Ollama would answer it: the upstream status
/// and message when they came from an instance.
pub(crate) fn from_error(error: &om_core::Error) -> Response<Body> {
    native_error(status_of(error), error.message())
}

/// The `OpenAI` error shape with the native status (`OLLAMA_API.md` §7.5),
/// written as Ollama's `/v1` layer does: a JSON line.
pub(crate) fn openai_error(error: &OpenAiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    openai_json(status, error)
}

/// An orchestrator error in the `OpenAI` shape.
pub(crate) fn openai_from_error(error: &om_core::Error) -> Response<Body> {
    openai_error(&OpenAiError::new(error.http_status(), error.message()))
}

/// A `/v1` JSON body: written with a JSON encoder, so it ends in a newline.
pub(crate) fn openai_json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            with(status, JSON, Body::full(bytes))
        }
        Err(err) => native_error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}
