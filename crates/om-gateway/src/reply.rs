//! Building responses: Ollama's texts and JSON shapes, its error bodies,
//! the `OpenAI` error shape for `/v1`, and the Anthropic one for
//! `/v1/messages`.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use om_core::wire::anthropic::AnthropicError;
use om_core::wire::openai::OpenAiError;
use om_core::{ErrorKind, TimeoutPhase};
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

/// What a 503 or 429 tells a client to wait when the error names no time.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// What a client may read of an error. An instance's own words (its error
/// JSON, Ollama's texts) and errors of the request itself pass as they are;
/// what the gateway says about its backends — which endpoint refused, timed
/// out or is down, at what address — only to an authenticated caller
/// (`reveal`: the gateway has a token, so every caller that got this far
/// holds it). Anyone else reads what kind of failure it was.
pub(crate) fn public_message(error: &om_core::Error, reveal: bool) -> Cow<'_, str> {
    if reveal {
        return Cow::Borrowed(error.message());
    }
    let text = match error.kind() {
        ErrorKind::Connect => "no connection to a model server could be made",
        ErrorKind::Disconnected => "the model server closed the connection",
        ErrorKind::Protocol => "the model server's answer could not be read",
        ErrorKind::Timeout(TimeoutPhase::Connect) => "connecting to the model server timed out",
        ErrorKind::Timeout(_) => "the model server did not answer in time",
        ErrorKind::NoBackend => match error.model() {
            Some(model) => {
                return Cow::Owned(format!(
                    "no model server can serve model '{model}' now; try again later"
                ));
            }
            None => "no model server can serve this request now; try again later",
        },
        ErrorKind::Io | ErrorKind::Internal => "internal error",
        _ => return Cow::Borrowed(error.message()),
    };
    Cow::Borrowed(text)
}

/// An orchestrator error as Ollama would answer it: the upstream status
/// and message when they came from an instance; `Retry-After` on 503 and
/// 429.
pub(crate) fn from_error(error: &om_core::Error, reveal: bool) -> Response<Body> {
    Face::Ollama.failure(error, reveal)
}

/// The `OpenAI` error shape with the native status (`OLLAMA_API.md` §7.5),
/// written as Ollama's `/v1` layer does: a JSON line.
pub(crate) fn openai_error(error: &OpenAiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    openai_json(status, error)
}

/// The API shape a route answers in, errors included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    /// `{"error": message}`.
    Ollama,
    /// `{"error": {"message", "type", …}}` (`/v1`).
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}` (`/v1/messages`).
    Anthropic,
}

impl Face {
    /// The face of a path, for answers given before the route is resolved.
    pub(crate) fn of_path(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Self::Anthropic
        } else if path.starts_with("/v1") {
            Self::OpenAi
        } else {
            Self::Ollama
        }
    }

    /// An error with this status and message, in this face's shape.
    pub(crate) fn error(self, status: StatusCode, message: &str) -> Response<Body> {
        match self {
            Self::Ollama => native_error(status, message),
            Self::OpenAi => openai_error(&OpenAiError::new(status.as_u16(), message)),
            Self::Anthropic => anthropic_error(&AnthropicError::new(status.as_u16(), message)),
        }
    }

    /// An orchestrator error in this face's shape, with `Retry-After` on
    /// 503 and 429.
    pub(crate) fn failure(self, error: &om_core::Error, reveal: bool) -> Response<Body> {
        let mut response = self.error(status_of(error), &public_message(error, reveal));
        retry_after(&mut response, error);
        response
    }
}

/// The Anthropic error shape with the native status.
pub(crate) fn anthropic_error(error: &AnthropicError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, error)
}

/// Sets `Retry-After` (whole seconds, at least 1) on a 503 or 429.
fn retry_after(response: &mut Response<Body>, error: &om_core::Error) {
    let status = response.status();
    if status != StatusCode::SERVICE_UNAVAILABLE && status != StatusCode::TOO_MANY_REQUESTS {
        return;
    }
    let wait = error.retry_after().unwrap_or(DEFAULT_RETRY_AFTER);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
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
