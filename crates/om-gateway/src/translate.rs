//! What the translated faces (`/v1`, `/v1/responses`, `/v1/messages`)
//! share: decoding their body, forwarding its native form, reading a whole
//! native answer, and turning a native stream into SSE events as its lines
//! arrive. Each face says how a line becomes events ([`Events`]) and how an
//! error looks ([`Face`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::request::Parts;
use http::{Response, StatusCode};
use om_core::RequestId;
use om_orchestrator::{Forwarded, Operation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::body::Body;
use crate::inspect::inspect;
use crate::native::{collect, forward};
use crate::reply::{self, Face};

/// Decodes a translated face's body; the message says what was wrong.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("missing request body".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// Forwards the native form of a request — with, from a `/v1` client, its
/// own request `as_written`, which an OpenAI-compatible backend gets
/// instead —; a failure before the first line is answered in `face`'s
/// shape.
pub(crate) async fn send<T: Serialize>(
    app: &App,
    parts: &Parts,
    id: &RequestId,
    operation: Operation,
    native: &T,
    as_written: Option<&Bytes>,
    face: Face,
) -> Result<Forwarded, Response<Body>> {
    let body = serde_json::to_vec(native).map_err(|e| {
        face.error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot encode the request: {e}"))
    })?;
    let inspected = inspect(operation, &body).map_err(|e| face.failure(&e, app.reveal()))?;
    tracing::Span::current().record("model", inspected.model.as_str());
    let mut request = forward(id, operation, inspected, Bytes::from(body));
    request.authorization = app.upstream_authorization(&parts.headers);
    request.openai_body = as_written.cloned();
    app.forward(request).await.map_err(|error| face.failure(&error, app.reveal()))
}

/// The one native object of a non-streamed answer.
pub(crate) async fn whole<T: DeserializeOwned>(
    app: &App,
    answer: Forwarded,
    face: Face,
) -> Result<T, Response<Body>> {
    let (bytes, error) = collect(answer).await;
    if let Some(error) = error {
        return Err(face.failure(&error, app.reveal()));
    }
    if let Some(message) = error_message(&bytes) {
        return Err(face.error(StatusCode::INTERNAL_SERVER_ERROR, &message));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        face.error(StatusCode::INTERNAL_SERVER_ERROR, &format!("unexpected answer upstream: {e}"))
    })
}

/// How one face turns native lines into SSE events.
pub(crate) trait Events: Send + Unpin + 'static {
    /// The framed events for one native line (not an error line); true
    /// when the answer is complete.
    fn line(&mut self, line: &[u8]) -> (String, bool);

    /// The framed event for a failure after the stream began.
    fn error(&mut self, message: &str) -> String;
}

/// A streamed answer: `events`' frames as the native lines arrive.
pub(crate) fn sse(answer: Forwarded, events: impl Events, reveal: bool) -> Response<Body> {
    let stream = Sse { answer, events, ended: false, reveal };
    let mut response = reply::with(StatusCode::OK, reply::SSE, Body::stream(stream));
    response.headers_mut().insert(http::header::CACHE_CONTROL, "no-cache".parse().expect("valid"));
    response
}

/// A native answer as SSE events, one group per native line, as it comes.
struct Sse<E> {
    answer: Forwarded,
    events: E,
    ended: bool,
    /// The error event may say what the gateway knows of its backends.
    reveal: bool,
}

impl<E: Events> Stream for Sse<E> {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(this.answer.poll_next_unpin(cx)) {
                Some(Ok(line)) => {
                    let (events, ended) = match error_message(&line) {
                        Some(message) => (this.events.error(&message), true),
                        None => this.events.line(&line),
                    };
                    this.ended = ended;
                    if !events.is_empty() {
                        return Poll::Ready(Some(Bytes::from(events)));
                    }
                }
                // The stream has begun, so the failure is an event in the
                // face's own error shape: what the SDKs recognise.
                Some(Err(error)) => {
                    this.ended = true;
                    let message = reply::public_message(&error, this.reveal);
                    return Poll::Ready(Some(Bytes::from(this.events.error(&message))));
                }
                None => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

/// The message of an `{"error": …}` line.
pub(crate) fn error_message(line: &[u8]) -> Option<String> {
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

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
