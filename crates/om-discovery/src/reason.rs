//! Why an endpoint is down, in words: the reason the registry stores and
//! `ollama-meta models` shows.
//!
//! The wording is decided on the error's kind and on the `io::ErrorKind` in
//! its cause chain, never on message text; the innermost cause's message is
//! appended as detail where it says something a person can act on.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use om_core::{Error, ErrorKind, format_duration};

/// The reason an endpoint is down after `error` on `path` (`/api/tags`):
///
/// - `connection refused` (or `cannot connect: <cause>`) when nothing
///   answered;
/// - `timeout: no answer from <path> within <limit>`;
/// - `invalid response from <path>: <cause>` for bytes that are not an HTTP
///   response, a body that is not the expected JSON, or a connection closed
///   before the answer was complete;
/// - `<path> answered <status>: <message>` for a non-success status.
pub(crate) fn describe(path: &str, error: &Error, timeout: Duration) -> String {
    match error.kind() {
        ErrorKind::Connect => {
            if io_kind(error) == Some(io::ErrorKind::ConnectionRefused) {
                "connection refused".to_owned()
            } else if let Some(tls) = om_client::tls_failure(error) {
                format!("TLS failed: {tls}")
            } else {
                format!("cannot connect: {}", innermost(error))
            }
        }
        ErrorKind::Timeout(_) => {
            format!("timeout: no answer from {path} within {}", format_duration(timeout))
        }
        ErrorKind::Protocol | ErrorKind::Disconnected | ErrorKind::Stream => {
            format!("invalid response from {path}: {}", innermost(error))
        }
        ErrorKind::Busy
        | ErrorKind::RateLimited
        | ErrorKind::ModelNotFound
        | ErrorKind::InvalidRequest
        | ErrorKind::Upstream { .. } => {
            format!("{path} answered {}: {}", error.http_status(), error.message())
        }
        _ => format!("cannot probe {path}: {}", error.message()),
    }
}

/// The `io::ErrorKind` of the first I/O error in the cause chain.
fn io_kind(error: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = e.source();
    }
    None
}

/// The message of the innermost cause: the most specific thing known (a
/// JSON parser's position, hyper's "invalid HTTP version parsed").
fn innermost(error: &(dyn StdError + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use om_core::TimeoutPhase;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn refused_is_said_plainly() {
        let refused =
            io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused (os 111)");
        let error = Error::new(ErrorKind::Connect, "cannot connect to x").with_source(refused);
        assert_eq!(describe("/api/version", &error, LIMIT), "connection refused");
        let unreachable = io::Error::new(io::ErrorKind::HostUnreachable, "no route to host");
        let error = Error::new(ErrorKind::Connect, "cannot connect to x").with_source(unreachable);
        assert_eq!(describe("/api/version", &error, LIMIT), "cannot connect: no route to host");
    }

    #[test]
    fn timeouts_name_the_path_and_limit() {
        let error = Error::new(ErrorKind::Timeout(TimeoutPhase::Total), "timed out");
        assert_eq!(describe("/api/ps", &error, LIMIT), "timeout: no answer from /api/ps within 5s");
    }

    #[test]
    fn garbage_gives_the_innermost_cause() {
        let json = serde_json::from_str::<serde_json::Value>("nonsense").unwrap_err();
        let error = Error::new(ErrorKind::Protocol, "invalid NDJSON line").with_source(json);
        assert_eq!(
            describe("/api/tags", &error, LIMIT),
            "invalid response from /api/tags: expected ident at line 1 column 2"
        );
    }

    #[test]
    fn statuses_keep_the_server_text() {
        let error = Error::from_status(404, "404 page not found");
        assert_eq!(
            describe("/api/version", &error, LIMIT),
            "/api/version answered 404: 404 page not found"
        );
        let error = Error::from_status(500, "boom");
        assert_eq!(describe("/api/tags", &error, LIMIT), "/api/tags answered 500: boom");
    }
}
