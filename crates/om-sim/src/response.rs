//! Response bodies and builders: JSON, text, empty, NDJSON and SSE streams.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use serde::Serialize;

use crate::error::{ApiError, Dropped};

/// The body of every response: whole, or a stream of frames that may end in
/// [`Dropped`] (hyper then closes the connection mid-body).
pub(crate) type Body = UnsyncBoxBody<Bytes, Dropped>;

/// A response, or [`Dropped`] to close the connection without one.
pub(crate) type Reply = Result<Response<Body>, Dropped>;

/// One frame of a streamed body: a line's bytes, or the instruction to drop
/// the connection.
pub(crate) type Chunk = Result<Bytes, Dropped>;

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const SSE: &str = "text/event-stream";

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed_unsync()
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A compact JSON body without a trailing newline, as gin's `c.JSON` writes.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, JSON, full(bytes)),
        Err(err) => error(&ApiError::internal(err.to_string())),
    }
}

/// A JSON body ending in `\n`, as Go's `json.Encoder` writes (the `/v1` routes).
pub(crate) fn json_line<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            with_type(status, "application/json", full(bytes))
        }
        Err(err) => error(&ApiError::internal(err.to_string())),
    }
}

/// A native error: the status and `{"error":"…"}`.
pub(crate) fn error(err: &ApiError) -> Response<Body> {
    json(err.status, &om_core::wire::ErrorBody::new(err.message.clone()))
}

/// A plain-text body.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    with_type(status, TEXT, full(body))
}

/// 200 with an empty body (copy, delete).
pub(crate) fn empty() -> Response<Body> {
    Response::new(Empty::new().map_err(|never: Infallible| match never {}).boxed_unsync())
}

/// A bare status with an empty body (the host check's 403, blob answers).
pub(crate) fn status(status: StatusCode) -> Response<Body> {
    let mut response = empty();
    *response.status_mut() = status;
    response
}

/// A 200 stream: each item becomes exactly one body frame (one HTTP chunk).
pub(crate) fn stream<S>(content_type: &'static str, lines: S) -> Response<Body>
where
    S: Stream<Item = Chunk> + Send + 'static,
{
    let body = StreamBody::new(lines.map(|line| line.map(Frame::data)));
    with_type(StatusCode::OK, content_type, body.boxed_unsync())
}

/// One NDJSON line: compact JSON and `\n`.
pub(crate) fn ndjson_line<T: Serialize>(value: &T) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_else(|err| {
        serde_json::to_vec(&om_core::wire::ErrorBody::new(err.to_string())).unwrap_or_default()
    });
    bytes.push(b'\n');
    Bytes::from(bytes)
}
