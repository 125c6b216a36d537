//! The one error type of the request path, with a kind and predicates.
//!
//! Everything above `om-core` decides what to do with a failure by asking an
//! [`Error`] (`is_retryable`, `is_timeout`, `http_status`), never by reading
//! its message. The message is kept verbatim when it comes from an upstream
//! Ollama (`model 'x' not found`), because clients and tests compare it.

use std::fmt;
use std::time::Duration;

/// A boxed error cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which phase of a request ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Establishing the TCP connection.
    Connect,
    /// Waiting for the response head / first body byte.
    FirstByte,
    /// Waiting between two chunks of a streaming body.
    Idle,
    /// The whole request, end to end.
    Total,
}

/// What went wrong, as a closed set the rest of the stack can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The endpoint could not be reached (refused, unreachable, reset before
    /// any response).
    Connect,
    /// A time limit was hit.
    Timeout(TimeoutPhase),
    /// Ollama's 503 `server busy`: backpressure, try again later or elsewhere.
    Busy,
    /// HTTP 429 from upstream.
    RateLimited,
    /// The model does not exist on that endpoint (upstream 404).
    ModelNotFound,
    /// The request itself is wrong (upstream or local 400): retrying will not help.
    InvalidRequest,
    /// Any other non-success status from upstream.
    Upstream {
        /// The HTTP status code.
        status: u16,
    },
    /// An `{"error":…}` line arrived after the stream had started (status 200).
    Stream,
    /// The connection broke while a response body was being read.
    Disconnected,
    /// The peer spoke something that is not the Ollama protocol.
    Protocol,
    /// The caller cancelled the request.
    Canceled,
    /// No endpoint is able to serve the request.
    NoBackend,
    /// Configuration is invalid.
    Config,
    /// A local I/O failure (files, sockets we own).
    Io,
    /// A bug or an unexpected state.
    Internal,
}

/// The error of the request path.
///
/// `Display` prints this level only; the cause is in [`std::error::Error::source`].
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    endpoint: Option<String>,
    model: Option<String>,
    retry_after: Option<Duration>,
    partial: bool,
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            endpoint: None,
            model: None,
            retry_after: None,
            partial: false,
            source: None,
        }
    }

    /// Maps an upstream HTTP status and its `error` text to an [`Error`].
    pub fn from_status(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            400 | 422 => ErrorKind::InvalidRequest,
            404 => ErrorKind::ModelNotFound,
            429 => ErrorKind::RateLimited,
            499 => ErrorKind::Canceled,
            503 => ErrorKind::Busy,
            status => ErrorKind::Upstream { status },
        };
        Self::new(kind, message)
    }

    /// Attaches the cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Records which endpoint the error came from.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Records which model the request was for.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Records a `Retry-After` hint.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Marks that output had already been produced when the error happened.
    #[must_use]
    pub fn with_partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// This level's message (for upstream errors, Ollama's own text).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The endpoint the error came from, when known.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The model the request was for, when known.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// How long upstream asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// True when some output had already been produced: the request must not
    /// be silently retried elsewhere by a caller that forwarded that output.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// True when trying again (here later, or on another endpoint) can
    /// succeed: connect failures, timeouts, busy, rate limits, 5xx, broken
    /// streams and protocol garbage. A wrong request, a cancellation or a
    /// configuration error is never retryable.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Connect
            | ErrorKind::Timeout(_)
            | ErrorKind::Busy
            | ErrorKind::RateLimited
            | ErrorKind::Stream
            | ErrorKind::Disconnected
            | ErrorKind::Protocol => true,
            ErrorKind::Upstream { status } => status >= 500,
            _ => false,
        }
    }

    /// True when retrying on a *different* endpoint may help even though this
    /// one cannot serve the request (the model is missing here).
    pub fn is_failover(&self) -> bool {
        self.is_retryable() || self.kind == ErrorKind::ModelNotFound
    }

    /// True for any timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout(_))
    }

    /// True for a connect failure.
    pub fn is_connect(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// True for Ollama's 503 `server busy` or a 429: backpressure, not a fault.
    pub fn is_busy(&self) -> bool {
        matches!(self.kind, ErrorKind::Busy | ErrorKind::RateLimited)
    }

    /// True when the request cannot have started any work upstream, so the
    /// same endpoint may be sent it again: a failed connect (or connect
    /// timeout), or a refusal before work (503 `server busy`, 429) — and
    /// only before any byte of an answer was consumed.
    pub fn is_resendable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connect
                | ErrorKind::Timeout(TimeoutPhase::Connect)
                | ErrorKind::Busy
                | ErrorKind::RateLimited
        ) && !self.is_partial()
    }

    /// True when the caller cancelled.
    pub fn is_canceled(&self) -> bool {
        self.kind == ErrorKind::Canceled
    }

    /// True when the model is not on the endpoint.
    pub fn is_model_not_found(&self) -> bool {
        self.kind == ErrorKind::ModelNotFound
    }

    /// The HTTP status a front end should answer with for this error.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            ErrorKind::InvalidRequest | ErrorKind::Config => 400,
            ErrorKind::ModelNotFound => 404,
            ErrorKind::RateLimited => 429,
            ErrorKind::Canceled => 499,
            ErrorKind::Upstream { status } => status,
            ErrorKind::Connect | ErrorKind::Protocol | ErrorKind::Disconnected => 502,
            ErrorKind::Busy | ErrorKind::NoBackend => 503,
            ErrorKind::Timeout(_) => 504,
            ErrorKind::Stream | ErrorKind::Io | ErrorKind::Internal => 500,
        }
    }

    /// A short stable name for the kind, for journals and metrics labels.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}

impl ErrorKind {
    /// A short stable `snake_case` name (`connect`, `timeout`, `busy`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout(_) => "timeout",
            Self::Busy => "busy",
            Self::RateLimited => "rate_limited",
            Self::ModelNotFound => "model_not_found",
            Self::InvalidRequest => "invalid_request",
            Self::Upstream { .. } => "upstream",
            Self::Stream => "stream",
            Self::Disconnected => "disconnected",
            Self::Protocol => "protocol",
            Self::Canceled => "canceled",
            Self::NoBackend => "no_backend",
            Self::Config => "config",
            Self::Io => "io",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_round_trips() {
        for status in [400_u16, 404, 429, 499, 500, 502, 503] {
            assert_eq!(Error::from_status(status, "x").http_status(), status, "{status}");
        }
    }

    #[test]
    fn retry_rules() {
        assert!(Error::from_status(503, "server busy").is_retryable());
        assert!(Error::from_status(503, "server busy").is_busy());
        assert!(Error::from_status(503, "server busy").is_resendable());
        assert!(Error::from_status(429, "slow down").is_resendable());
        assert!(Error::new(ErrorKind::Connect, "refused").is_resendable());
        assert!(!Error::from_status(500, "boom").is_resendable());
        assert!(!Error::new(ErrorKind::Timeout(TimeoutPhase::FirstByte), "slow").is_resendable());
        assert!(!Error::from_status(503, "server busy").with_partial(true).is_resendable());
        assert!(Error::from_status(500, "boom").is_retryable());
        assert!(!Error::from_status(400, "bad").is_retryable());
        assert!(!Error::from_status(404, "model 'x' not found").is_retryable());
        assert!(Error::from_status(404, "model 'x' not found").is_failover());
        assert!(Error::new(ErrorKind::Timeout(TimeoutPhase::Idle), "idle").is_timeout());
        assert!(!Error::new(ErrorKind::Canceled, "canceled").is_retryable());
    }

    #[test]
    fn display_is_this_level_only() {
        let cause = std::io::Error::other("refused");
        let err = Error::new(ErrorKind::Connect, "cannot connect to endpoint").with_source(cause);
        assert_eq!(err.to_string(), "cannot connect to endpoint");
        assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "refused");
    }
}
