//! The one error type of both halves: what went wrong, in which words,
//! and the I/O error under it when there is one.

use std::fmt;
use std::io;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection could be made (refused, unreachable, name not
    /// resolved, TLS handshake refused).
    Connect,
    /// The connect did not finish within its limit.
    ConnectTimeout,
    /// The peer closed the connection before the message was complete.
    Closed,
    /// Reading or writing the socket failed.
    Io,
    /// The peer sent something that is not HTTP/1.1 as RFC 9112 frames it.
    Malformed,
    /// A head or a body is larger than its limit.
    TooLarge,
}

/// A failure of a connection, a request or a body.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    pub(crate) fn io(kind: ErrorKind, message: impl Into<String>, source: io::Error) -> Self {
        Self { kind, message: message.into(), source: Some(source) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// No connection could be made, or not in time.
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, ErrorKind::Connect | ErrorKind::ConnectTimeout)
    }

    /// The connect ran out of time.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::ConnectTimeout
    }

    /// The peer closed (or reset) the connection mid-message.
    pub fn is_closed(&self) -> bool {
        match self.kind {
            ErrorKind::Closed => true,
            ErrorKind::Io => self.source.as_ref().is_some_and(|e| is_disconnect(e.kind())),
            _ => false,
        }
    }

    /// The peer broke the protocol.
    pub fn is_malformed(&self) -> bool {
        self.kind == ErrorKind::Malformed
    }

    /// A head or body was over its limit.
    pub fn is_too_large(&self) -> bool {
        self.kind == ErrorKind::TooLarge
    }
}

/// The I/O error kinds that mean the peer went away.
pub(crate) fn is_disconnect(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
