//! The gateway's own errors: what can go wrong before it serves.

use std::io;
use std::net::SocketAddr;

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
}

impl Error {
    /// True when binding the listen address failed.
    pub fn is_bind(&self) -> bool {
        matches!(self, Self::Bind { .. })
    }
}
