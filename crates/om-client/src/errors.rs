//! Mapping transport failures and non-success responses onto
//! [`om_core::Error`].
//!
//! Decisions are made on om-http's predicates (`is_connect`, `is_timeout`)
//! and on the error types in the cause chain, never on message text.

use std::error::Error as StdError;
use std::io;

use http::{HeaderMap, StatusCode};

use om_core::{Error, ErrorKind, TimeoutPhase};

use crate::retry::parse_retry_after;

/// A failure of `Client::request` (before a response head arrived).
pub(crate) fn from_request_error(err: om_http::Error, endpoint: &str) -> Error {
    if err.is_connect() {
        if let Some(tls) = tls_failure(&err) {
            return Error::new(ErrorKind::Connect, format!("TLS with {endpoint} failed: {tls}"))
                .with_source(err);
        }
        if err.is_timeout() || caused_by_timeout(&err) {
            return Error::new(
                ErrorKind::Timeout(TimeoutPhase::Connect),
                format!("timed out connecting to {endpoint}"),
            )
            .with_source(err);
        }
        return Error::new(ErrorKind::Connect, format!("cannot connect to {endpoint}"))
            .with_source(err);
    }
    // The request may have reached the server (it can have done work), so
    // this is a broken exchange rather than a connect failure.
    Error::new(
        ErrorKind::Disconnected,
        format!("connection to {endpoint} closed before the response head"),
    )
    .with_source(err)
}

/// A failure while reading a response body.
pub(crate) fn from_body_error(err: om_http::Error, endpoint: &str, partial: bool) -> Error {
    Error::new(
        ErrorKind::Disconnected,
        format!("connection to {endpoint} broke while reading the response body"),
    )
    .with_partial(partial)
    .with_source(err)
}

/// A phase ran out of time.
pub(crate) fn timeout(phase: TimeoutPhase, endpoint: &str, partial: bool) -> Error {
    let what = match phase {
        TimeoutPhase::Connect => "connecting to",
        TimeoutPhase::FirstByte => "waiting for the first byte from",
        TimeoutPhase::Idle => "waiting for the next chunk from",
        TimeoutPhase::Total => "waiting for the whole call to",
        _ => "waiting for",
    };
    Error::new(ErrorKind::Timeout(phase), format!("timed out {what} {endpoint}"))
        .with_partial(partial)
}

/// A non-success response: Ollama's `{"error": …}` message verbatim, else
/// the body text, else the status line; `Retry-After` is kept.
pub(crate) fn from_status(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let message = error_message(body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() { status.to_string() } else { text.to_owned() }
    });
    let error = Error::from_status(status.as_u16(), message);
    match headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
    {
        Some(after) => error.with_retry_after(after),
        None => error,
    }
}

/// The `error` string of a JSON error body.
fn error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: serde_json::Value,
    }
    match serde_json::from_slice::<Body>(body).ok()?.error {
        serde_json::Value::String(s) => Some(s),
        // OpenAI-shaped bodies nest the message.
        serde_json::Value::Object(map) => {
            map.get("message").and_then(|m| m.as_str()).map(str::to_owned)
        }
        _ => None,
    }
}

/// The TLS error in `err`'s causes (a certificate the roots do not vouch
/// for, a name mismatch, an expired certificate…), in rustls's words.
pub fn tls_failure(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An `io::Error`'s `source` skips the error it wraps (it is that
        // error's source), and connectors wrap TLS errors in two of them.
        cause = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn caused_by_timeout(err: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::TimedOut) {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn status_bodies() {
        let mut headers = HeaderMap::new();
        let e = from_status(StatusCode::NOT_FOUND, &headers, br#"{"error":"model 'x' not found"}"#);
        assert_eq!((e.kind(), e.message()), (ErrorKind::ModelNotFound, "model 'x' not found"));
        let e = from_status(StatusCode::NOT_FOUND, &headers, b"404 page not found");
        assert_eq!(e.message(), "404 page not found");
        let e = from_status(StatusCode::FORBIDDEN, &headers, b"");
        assert_eq!((e.message(), e.http_status()), ("403 Forbidden", 403));
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("3"));
        let e = from_status(StatusCode::SERVICE_UNAVAILABLE, &headers, br#"{"error":"busy"}"#);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(3)));
        let e = from_status(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
        );
        assert_eq!(e.message(), "bad");
    }
}
