//! Raw pass-through: a response body as the lines the endpoint wrote, byte
//! for byte, for a front end that forwards them to its own client.
//!
//! [`Client::send_lines`] makes the call like every other one (timeouts, the
//! `Host` rewrite for loopback upstreams, Ollama's error bodies turned into
//! typed errors before the first byte) but decodes nothing: each item of the
//! returned [`Lines`] is one line with its `\n`, or the last piece of a body
//! that does not end with one (a non-streaming JSON answer). Only the line
//! framing is checked, with the sans-IO [`LineDecoder`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use futures_core::Stream;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};

use om_core::{Error, ErrorKind, Result};

use crate::body::BodyReader;
use crate::client::{Call, Client};
use crate::ndjson::LineDecoder;
use crate::stream::Context;

const NDJSON: HeaderValue = HeaderValue::from_static("application/x-ndjson");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A request sent as given, for [`Client::send_lines`].
///
/// The body goes out unchanged with `Content-Type: application/json`; the
/// client adds `Accept`, `User-Agent` and, for loopback endpoints, `Host`.
///
/// ```
/// use bytes::Bytes;
/// use om_client::RawRequest;
///
/// let request = RawRequest::post("/api/chat", Bytes::from_static(b"{\"model\":\"llama3.2\"}"))
///     .for_model("llama3.2");
/// assert_eq!(request.path, "/api/chat");
/// ```
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// `GET`, `POST` or `DELETE` (Ollama's `/api/delete` takes a body).
    pub method: Method,
    /// The API path, e.g. `/api/generate`.
    pub path: &'static str,
    /// The JSON body, if any.
    pub body: Option<Bytes>,
    /// Sent as `Authorization` instead of the client's own bearer token
    /// (none by default: a front end forwards its client's header only when
    /// told to).
    pub authorization: Option<HeaderValue>,
    /// The model the request is for, as errors name it.
    pub model: Option<String>,
    /// The same request as an OpenAI client wrote it (the `/v1` JSON),
    /// sent instead of the conversion of `body` when the endpoint is
    /// OpenAI-compatible: what the native form cannot say (`tool_choice`,
    /// `logit_bias`, a server's own fields such as llama.cpp's `grammar`)
    /// then reaches it. Ollama endpoints get `body`.
    pub openai_body: Option<Bytes>,
}

impl RawRequest {
    /// A `GET` without a body.
    pub fn get(path: &'static str) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            authorization: None,
            model: None,
            openai_body: None,
        }
    }

    /// A `POST` with a JSON body.
    pub fn post(path: &'static str, body: Bytes) -> Self {
        Self {
            method: Method::POST,
            path,
            body: Some(body),
            authorization: None,
            model: None,
            openai_body: None,
        }
    }

    /// Uses another method (keeping the body).
    #[must_use]
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sends this `Authorization` value.
    #[must_use]
    pub fn with_authorization(mut self, value: HeaderValue) -> Self {
        self.authorization = Some(value);
        self
    }

    /// Names the model in errors.
    #[must_use]
    pub fn for_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sends `body`, the request as an OpenAI client wrote it, to an
    /// OpenAI-compatible endpoint ([`openai_body`](Self::openai_body)).
    #[must_use]
    pub fn with_openai_body(mut self, body: Bytes) -> Self {
        self.openai_body = Some(body);
        self
    }
}

/// The body of a 2xx response as the lines the endpoint wrote.
///
/// Each item is one line including its `\n` (a `\r` before it is dropped,
/// blank lines are skipped), or the last piece of a body that has no final
/// newline, unchanged. Nothing is parsed: an `{"error": …}` line is a line
/// like any other, and whether the stream was complete is for the caller to
/// judge. The stream ends with one `Err` when the connection breaks
/// ([`ErrorKind::Disconnected`](om_core::ErrorKind::Disconnected)), a
/// first-byte, idle or total limit passes, or a line is longer than the
/// client's limit — its line limit for a stream (NDJSON), its answer limit
/// for anything else, which is one object — ([`ErrorKind::Protocol`](om_core::ErrorKind::Protocol));
/// the error is [partial](Error::is_partial) once a line was yielded.
///
/// # Cancel safety
///
/// Dropping it drops the response body, which closes the connection: the
/// endpoint sees the disconnect and stops generating.
#[must_use = "streams do nothing unless polled"]
pub struct Lines {
    content_type: Option<HeaderValue>,
    /// Boxed: the stream is moved from owner to owner on its way out.
    state: Box<RawLines>,
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

impl Lines {
    /// The response's `Content-Type` (`application/x-ndjson` for a stream,
    /// `application/json; charset=utf-8` for one object), when it had one.
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }
}

impl Stream for Lines {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.state.poll_item(cx)
    }
}

impl Client {
    /// Sends `request` and returns the response body as raw [`Lines`], for
    /// forwarding.
    ///
    /// Until the response head arrives this is the same call as every other
    /// one: the client's timeouts and retry policy apply, and a non-2xx
    /// answer becomes an error carrying Ollama's message and status
    /// ([`Error::from_status`]).
    ///
    /// # Errors
    ///
    /// Connect failures, timeouts before the head, and non-2xx answers, each
    /// naming the endpoint (and `request.model`).
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future or the returned [`Lines`] closes
    /// the connection.
    pub async fn send_lines(&self, request: RawRequest) -> Result<Lines> {
        let RawRequest { method, path, body, authorization, model, openai_body } = request;
        let accept = if method == Method::GET { JSON } else { NDJSON };
        let call = Call { method, path, body, accept, authorization, openai_body };
        let context = self.context(model);
        let started = self.execute(&call, &context).await?;
        // Copied, not cloned: a parsed header value is a slice of the
        // connection's read buffer, and this one is kept for as long as
        // the answer streams, which would pin that buffer.
        let content_type = started
            .response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok());
        let streamed = content_type
            .as_ref()
            .is_some_and(|t| t.as_bytes().starts_with(b"application/x-ndjson"));
        let limit = self.line_limit(streamed);
        let state = RawLines {
            reader: Some(self.reader(started)),
            lines: LineDecoder::new(limit),
            limit,
            whole: (!streamed).then_some(0),
            context,
            yielded: false,
            finished: false,
        };
        Ok(Lines { content_type, state: Box::new(state) })
    }
}

/// The state of one raw line stream.
struct RawLines {
    /// `None` once the body has ended.
    reader: Option<BodyReader>,
    lines: LineDecoder,
    /// The longest line accepted.
    limit: usize,
    /// For an answer that does not stream, the bytes passed on so far: it
    /// is held whole downstream, so all of it counts against `limit`.
    whole: Option<usize>,
    context: Context,
    yielded: bool,
    finished: bool,
}

impl RawLines {
    fn poll_item(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        let item = std::task::ready!(self.poll_piece(cx));
        if let (Some(Ok(piece)), Some(total)) = (&item, self.whole.as_mut()) {
            *total = total.saturating_add(piece.len());
            if *total > self.limit {
                let message = format!(
                    "answer from {} is larger than {} bytes",
                    self.context.endpoint, self.limit
                );
                return Poll::Ready(Some(Err(self.fail(Error::new(ErrorKind::Protocol, message)))));
            }
        }
        Poll::Ready(item)
    }

    fn poll_piece(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            match self.lines.next_line() {
                Ok(Some(line)) => return Poll::Ready(Some(Ok(self.yield_line(&line)))),
                Ok(None) => {}
                Err(error) => return Poll::Ready(Some(Err(self.fail(error)))),
            }
            let Some(reader) = self.reader.as_mut() else {
                // The body is complete: what is left is a last line without
                // its newline, passed on as it came.
                self.finished = true;
                return Poll::Ready(match self.lines.finish() {
                    Ok(Some(rest)) => Some(Ok(rest)),
                    Ok(None) => None,
                    Err(error) => Some(Err(self.fail(error))),
                });
            };
            match std::task::ready!(reader.poll_chunk(cx)) {
                Ok(Some(bytes)) => {
                    if self.lines.is_empty() && is_one_line(&bytes, self.limit) {
                        // Ollama writes and flushes one line at a time, so
                        // a frame is usually exactly one line: pass it on
                        // without copying.
                        self.yielded = true;
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                    self.lines.push(bytes);
                }
                // The body is complete, so hyper has already returned the
                // connection to the pool.
                Ok(None) => self.reader = None,
                Err(failure) => {
                    let error = failure.into_error(&self.context.endpoint, self.yielded);
                    return Poll::Ready(Some(Err(self.fail(error))));
                }
            }
        }
    }

    /// A complete line with its newline put back.
    fn yield_line(&mut self, line: &[u8]) -> Bytes {
        self.yielded = true;
        let mut out = BytesMut::with_capacity(line.len() + 1);
        out.put_slice(line);
        out.put_u8(b'\n');
        out.freeze()
    }

    /// Ends the stream with `error`, closing the connection.
    fn fail(&mut self, error: Error) -> Error {
        self.finished = true;
        self.reader = None;
        self.context.annotate(error.with_partial(self.yielded))
    }
}

/// True when `bytes` is one non-blank line ending in `\n` (and not `\r\n`),
/// within `limit`: exactly what the decoder would yield for it.
fn is_one_line(bytes: &[u8], limit: usize) -> bool {
    let Some((&b'\n', body)) = bytes.split_last() else { return false };
    body.len() <= limit
        && body.last() != Some(&b'\r')
        && !body.contains(&b'\n')
        && !body.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_frames() {
        assert!(is_one_line(b"{\"a\":1}\n", 64));
        assert!(!is_one_line(b"{\"a\":1}", 64));
        assert!(!is_one_line(b"{\"a\":1}\r\n", 64));
        assert!(!is_one_line(b"{\"a\":1}\n{\"b\":2}\n", 64));
        assert!(!is_one_line(b"  \n", 64));
        assert!(!is_one_line(b"\n", 64));
        assert!(!is_one_line(b"", 64));
    }
}
