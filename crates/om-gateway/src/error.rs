//! The gateway's own errors: what can go wrong before it serves.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound (in use, not ours, no
    /// permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A non-loopback address with no token: anyone who can reach it could
    /// pull, push and delete models.
    #[error(
        "refusing to listen on {addr} without a token: it is not a loopback address, so anyone \
         who can reach it could pull, push and delete models; set an auth token \
         (--auth-token, OLLAMA_META_GATEWAY__AUTH_TOKEN) or, on a network you trust, \
         --insecure-no-auth (gateway.insecure_no_auth)"
    )]
    Unauthenticated {
        /// The address.
        addr: SocketAddr,
    },
    /// The certificate or key to serve HTTPS with could not be used.
    #[error("cannot serve HTTPS with {path}: {reason}")]
    Tls {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// True when binding the listen address failed.
    pub fn is_bind(&self) -> bool {
        matches!(self, Self::Bind { .. })
    }

    /// True when the certificate or key could not be used.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }

    /// True when the settings would expose the gateway without a token.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, Self::Unauthenticated { .. })
    }
}
