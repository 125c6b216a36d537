//! The shared, pooled hyper-util client that every endpoint client uses.
//!
//! hyper-util's legacy `Client` keys its connection pool on scheme and
//! authority, so one instance serves every endpoint of a fleet: build it once
//! (in `main` or the orchestrator) and hand clones to each [`crate::Client`].

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The pooled HTTP/1 client shared by endpoint clients. Cloning it is cheap
/// and clones share one pool.
pub type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// Settings of the shared [`HttpClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Default for HttpConfig {
    /// om-config's `[timeouts].connect`, 90 s idle pool timeout, 32 idle
    /// connections per endpoint (enough for ten or more agents on one box),
    /// 60 s keep-alive.
    fn default() -> Self {
        Self {
            connect_timeout: Some(om_config::Timeouts::default().connect),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: 32,
            tcp_keepalive: Some(Duration::from_mins(1)),
        }
    }
}

impl HttpConfig {
    /// Builds the client: `TCP_NODELAY` on (tokens are small writes that
    /// must not wait for Nagle), the connect timeout on the connector, and
    /// the pool idle timeout with the Tokio timer it needs to take effect.
    pub fn build(&self) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(self.connect_timeout);
        connector.set_keepalive(self.tcp_keepalive);
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .build(connector)
    }
}

/// A shared client with the default [`HttpConfig`].
pub fn http_client() -> HttpClient {
    HttpConfig::default().build()
}
