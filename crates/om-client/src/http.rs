//! The shared, pooled HTTP/1.1 client (om-http's) that every endpoint
//! client uses, over plain TCP or TLS.
//!
//! Its pool is keyed on scheme, host and port, so one instance serves
//! every endpoint of a fleet: build it once
//! (in `main` or the orchestrator) and hand clones to each [`crate::Client`].
//! `https` endpoints are reached with rustls, trusting the platform's roots
//! and, when given, the certificates of one more CA file ([`tls_config`]).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use om_core::{Error, ErrorKind};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The pooled HTTP/1 client shared by endpoint clients. Cloning it is cheap
/// and clones share one pool.
pub type HttpClient = om_http::Client;

/// Settings of the shared [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The TCP connect limit of the connector. Endpoint clients also enforce
    /// their own [`crate::Timeouts::connect`]; this one bounds connects for
    /// every user of the pool.
    pub connect_timeout: Option<Duration>,
    /// How long an unused pooled connection is kept open.
    pub pool_idle_timeout: Option<Duration>,
    /// How many idle connections are kept per endpoint.
    pub pool_max_idle_per_host: usize,
    /// TCP keep-alive probes on every connection, so a peer that vanished
    /// without a FIN is noticed.
    pub tcp_keepalive: Option<Duration>,
    /// TLS for `https` endpoints; `None` trusts the platform's roots only.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Default for HttpConfig {
    /// om-config's `[timeouts].connect`, 90 s idle pool timeout, 32 idle
    /// connections per endpoint (enough for ten or more agents on one box),
    /// 60 s keep-alive, the platform's roots.
    fn default() -> Self {
        Self {
            connect_timeout: Some(om_config::Timeouts::default().connect),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: 32,
            tcp_keepalive: Some(Duration::from_mins(1)),
            tls: None,
        }
    }
}

impl HttpConfig {
    /// Builds the client: `TCP_NODELAY` on (tokens are small writes that
    /// must not wait for Nagle), the connect timeout, TLS for `https` URLs
    /// (plain HTTP stays plain), the pool's idle timeout and size.
    pub fn build(&self) -> HttpClient {
        om_http::Client::new(om_http::ClientConfig {
            connect_timeout: self.connect_timeout,
            idle_timeout: self.pool_idle_timeout,
            max_idle_per_origin: self.pool_max_idle_per_host,
            tcp_keepalive: self.tcp_keepalive,
            tls: self.tls.clone().unwrap_or_else(platform_tls),
        })
    }
}

/// A shared client with the default [`HttpConfig`].
pub fn http_client() -> HttpClient {
    HttpConfig::default().build()
}

/// The TLS settings for `https` endpoints: the platform's roots, plus every
/// certificate in the PEM file `ca_file` (a private CA, a self-signed
/// server).
///
/// # Errors
///
/// [`ErrorKind::Config`] naming the file when it cannot be read or holds no
/// certificate.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = platform_roots();
    if let Some(path) = ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("tls.ca_file {}: cannot read certificates: {e}", path.display()),
                )
            })?;
        if certificates.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("tls.ca_file {}: holds no PEM certificate", path.display()),
            ));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("tls.ca_file {}: a certificate is not usable: {e}", path.display()),
                )
            })?;
        }
    }
    Ok(client_config(roots))
}

/// rustls with the one crypto provider the build enables (ring: the
/// workspace turns no other on, which a test checks).
fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
}

/// The platform's roots, read once per process.
fn platform_roots() -> RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::debug!(error = %error, "a platform certificate was not read");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    ignored,
                    "no platform CA certificates found; https endpoints need tls.ca_file"
                );
            }
            roots
        })
        .clone()
}

fn platform_tls() -> Arc<ClientConfig> {
    static TLS: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| client_config(platform_roots())).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_crypto_provider_and_located_ca_errors() {
        // `ClientConfig::builder` panics unless exactly one provider is built in.
        drop(tls_config(None).unwrap());
        let missing = tls_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(missing.message().starts_with("tls.ca_file /nonexistent/ca.pem"), "{missing}");
        let empty = tempfile::NamedTempFile::new().unwrap();
        let none = tls_config(Some(empty.path())).unwrap_err();
        assert!(none.message().contains("holds no PEM certificate"), "{none}");
        drop(http_client());
    }
}
