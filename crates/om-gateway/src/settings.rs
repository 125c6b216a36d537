//! The gateway's settings, as plain data taken from om-config's
//! `[gateway]` section (where their defaults live).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;

/// How long one endpoint may take to answer its part of `/api/ps`.
const LISTING_TIMEOUT: Duration = Duration::from_secs(10);

/// How the gateway listens and what it lets through.
///
/// [`Default`] is om-config's `[gateway]` section as it comes (loopback,
/// no token), with 10 s for each endpoint's share of an `/api/ps` listing.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// When set, every route but `/` needs `Authorization: Bearer <token>`.
    pub auth_token: Option<String>,
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// After shutdown is asked for, how long requests under way may go on
    /// before their connections are closed.
    pub shutdown_grace: Duration,
    /// Pass the client's `Authorization` header on to the endpoints.
    pub forward_authorization: bool,
    /// How long one endpoint may take to answer its part of `/api/ps`.
    pub listing_timeout: Duration,
    /// Allow a non-loopback `listen` without `auth_token`;
    /// [`Gateway::bind`](crate::Gateway::bind) refuses it otherwise.
    pub insecure_no_auth: bool,
    /// Connections served at once; each one past it is answered 503 with
    /// `Retry-After` and closed.
    pub max_connections: usize,
    /// How long a client may take to send a request body (408 after).
    pub body_read_timeout: Duration,
    /// How long until an answer begins (504 after); see om-config's
    /// `gateway.request_timeout`.
    pub request_timeout: Duration,
    /// Requests that may wait for capacity at once (503 past it).
    pub max_queue: usize,
    /// The longest wait for capacity (503 after).
    pub queue_timeout: Duration,
    /// Serve HTTPS with this certificate chain and key (PEM files), read
    /// when the gateway binds.
    pub tls: Option<TlsFiles>,
}

/// The gateway's certificate chain and private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf.
    pub key: PathBuf,
}

impl From<&om_config::Gateway> for Settings {
    fn from(section: &om_config::Gateway) -> Self {
        Self {
            listen: section.listen,
            auth_token: section.auth_token.as_ref().map(|t| t.expose().to_owned()),
            max_body_bytes: usize::try_from(section.max_body_bytes).unwrap_or(usize::MAX),
            header_read_timeout: section.header_read_timeout,
            shutdown_grace: section.shutdown_grace,
            forward_authorization: section.forward_authorization,
            listing_timeout: LISTING_TIMEOUT,
            insecure_no_auth: section.insecure_no_auth,
            max_connections: usize::try_from(section.max_connections).unwrap_or(usize::MAX),
            body_read_timeout: section.body_read_timeout,
            request_timeout: section.request_timeout,
            max_queue: usize::try_from(section.max_queue).unwrap_or(usize::MAX),
            queue_timeout: section.queue_timeout,
            tls: section
                .tls_cert
                .clone()
                .zip(section.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
        }
    }
}

impl Settings {
    /// Refuses what [`Gateway::bind`](crate::Gateway::bind) would refuse
    /// before it binds anything.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a non-loopback `listen` without
    /// `auth_token`, unless `insecure_no_auth`.
    pub fn check(&self) -> Result<(), Error> {
        let addr = self.listen;
        if addr.ip().is_loopback() || self.auth_token.is_some() || self.insecure_no_auth {
            Ok(())
        } else {
            Err(Error::Unauthenticated { addr })
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::from(&om_config::Gateway::default())
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("forward_authorization", &self.forward_authorization)
            .field("listing_timeout", &self.listing_timeout)
            .field("insecure_no_auth", &self.insecure_no_auth)
            .field("max_connections", &self.max_connections)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_queue", &self.max_queue)
            .field("queue_timeout", &self.queue_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_not_printed() {
        let settings = Settings { auth_token: Some("hunter2".to_owned()), ..Settings::default() };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"));
        assert!(Settings::default().listen.ip().is_loopback());
    }

    #[test]
    fn open_addresses_need_a_token_or_a_waiver() {
        let open = Settings { listen: "0.0.0.0:11435".parse().unwrap(), ..Settings::default() };
        let err = open.check().unwrap_err();
        assert!(err.is_unauthenticated() && err.to_string().contains("0.0.0.0:11435"), "{err}");
        let token = Settings { auth_token: Some("t".to_owned()), ..open.clone() };
        assert!(token.check().is_ok());
        let waived = Settings { insecure_no_auth: true, ..open };
        assert!(waived.check().is_ok());
        assert!(Settings::default().check().is_ok());
    }
}
