//! The `[gateway]` section: how `ollama-meta serve` listens and what it
//! lets through.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// Settings of the HTTP gateway.
///
/// ```toml
/// [gateway]
/// listen = "127.0.0.1:11435"   # loopback unless told otherwise
/// auth_token = "s3cret"        # clients send `Authorization: Bearer s3cret`
/// max_body_bytes = 33554432    # 32 MiB; larger request bodies get 413
/// header_read_timeout = "30s"  # a client must send its request head in time
/// shutdown_grace = "30s"       # streams may finish this long after SIGTERM
/// tls_cert = "gateway.pem"      # serve HTTPS (with tls_key)
/// tls_key = "gateway-key.pem"
/// forward_authorization = false
/// insecure_no_auth = false     # true: allow a non-loopback listen with no token
/// max_connections = 2048       # more get 503 with Retry-After, then close
/// body_read_timeout = "30s"    # a client must send its request body in time
/// request_timeout = "10m"      # until the answer begins (a whole one if not streamed)
/// max_queue = 512              # requests waiting for capacity; more get 503
/// queue_timeout = "5m"         # the longest wait for capacity; then 503
/// ```
///
/// The token is better given as `OLLAMA_META_GATEWAY__AUTH_TOKEN` than in a
/// file; it is never printed (`config show` writes `<redacted>`).
/// Upstream limits (connect, first byte, idle between lines) are the
/// `[timeouts]` section's: no total limit applies to a stream, so a long
/// but live answer is never cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// Where to listen. Default `127.0.0.1:11435`, next to Ollama's 11434.
    pub listen: SocketAddr,
    /// Require `Authorization: Bearer <token>` on every route but `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Secret>,
    /// The largest request body accepted, in bytes (default 32 MiB: room for
    /// a few base64 images).
    pub max_body_bytes: u64,
    /// How long a client may take to send a request's head.
    #[serde(with = "crate::duration")]
    pub header_read_timeout: Duration,
    /// After a shutdown signal, how long requests under way may go on
    /// before their connections are closed.
    #[serde(with = "crate::duration")]
    pub shutdown_grace: Duration,
    /// Pass the client's `Authorization` header on to the endpoints (off:
    /// a gateway token must not reach the backends).
    pub forward_authorization: bool,
    /// Serve a non-loopback `listen` address without `auth_token`. Off, the
    /// gateway refuses to start that way: anyone who can reach it could
    /// pull, push and delete models.
    pub insecure_no_auth: bool,
    /// Connections served at once; one past it gets 503 with
    /// `Retry-After` to every request, and is closed.
    pub max_connections: u64,
    /// How long a client may take to send a request's body, once its head
    /// is in (408 after).
    #[serde(with = "crate::duration")]
    pub body_read_timeout: Duration,
    /// How long a request may take until its answer begins: the first line
    /// of a stream, or the whole answer of a request that does not stream,
    /// queueing and failover included (504 after). A stream that has begun
    /// is never cut.
    #[serde(with = "crate::duration")]
    pub request_timeout: Duration,
    /// Requests that may wait for capacity (every instance busy) at once;
    /// one more gets 503 with `Retry-After` at once.
    pub max_queue: u64,
    /// The longest a request waits for capacity before it gets 503 with
    /// `Retry-After`.
    #[serde(with = "crate::duration")]
    pub queue_timeout: Duration,
    /// Serve HTTPS with this PEM certificate chain (with `tls_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl Default for Gateway {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 11435)),
            auth_token: None,
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            forward_authorization: false,
            insecure_no_auth: false,
            max_connections: 2048,
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_mins(10),
            max_queue: 512,
            queue_timeout: Duration::from_mins(5),
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Gateway {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        const POSITIVE: &str = "must be greater than 0";
        out.require(self.max_body_bytes > 0, || at.key("max_body_bytes"), POSITIVE);
        out.require(self.max_connections > 0, || at.key("max_connections"), POSITIVE);
        for (key, value) in [
            ("body_read_timeout", self.body_read_timeout),
            ("request_timeout", self.request_timeout),
            ("queue_timeout", self.queue_timeout),
        ] {
            out.require(!value.is_zero(), || at.key(key), POSITIVE);
        }
        out.require(
            !self.header_read_timeout.is_zero(),
            || at.key("header_read_timeout"),
            POSITIVE,
        );
        out.require(
            self.auth_token.as_ref().is_none_or(|t| !t.expose().trim().is_empty()),
            || at.key("auth_token"),
            "must not be empty (leave the key out to turn authentication off)",
        );
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => out.push(at.key("tls_key"), "is required with gateway.tls_cert"),
            (None, Some(_)) => out.push(at.key("tls_cert"), "is required with gateway.tls_key"),
            _ => {}
        }
        for (key, path) in [("tls_cert", &self.tls_cert), ("tls_key", &self.tls_key)] {
            if let Some(path) = path {
                let message = format!("{} is not a readable file", path.display());
                out.require(path.is_file(), || at.key(key), &message);
            }
        }
    }
}

/// A secret string: usable through [`Secret::expose`], never printed —
/// `Debug` and serialization write `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The text written instead of the secret.
    pub const REDACTED: &'static str = "<redacted>";

    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Accepts a string only: a token written as a number in a file
/// (`auth_token = 123`) is refused rather than turned into text, since
/// `000123` would lose its zeros. (Environment and command-line values of a
/// secret key are always read as text.)
struct SecretVisitor;

impl Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (quote a token that looks like a number)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_printed() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
        assert_eq!(secret.expose(), "hunter2");
        let err = serde_json::from_str::<Secret>("12345").unwrap_err();
        assert!(err.to_string().contains("quote a token"), "{err}");
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let gateway = Gateway::default();
        assert!(gateway.listen.ip().is_loopback());
        assert_eq!(gateway.listen.port(), 11435);
        assert_eq!(gateway.max_body_bytes, 32 * 1024 * 1024);
        let mut out = Findings::default();
        gateway.check(&KeyPath::root().key("gateway"), &mut out);
        assert!(out.into_vec().is_empty());
    }
}
