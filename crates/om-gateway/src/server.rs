//! The accept loop: one HTTP/1.1 connection per accepted socket, tracked so
//! that shutdown can let answers under way finish, then close what is left.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use om_http::{ServeConfig, serve_connection};
use om_orchestrator::Fleet;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::error::Error;
use crate::served::Served;
use crate::settings::Settings;

/// One request's answer, as the connection awaits it.
type BoxedAnswer = Pin<Box<dyn Future<Output = http::Response<crate::body::Body>> + Send>>;

/// The gateway, bound and ready to [`run`](Self::run).
///
/// ```no_run
/// use om_gateway::{Gateway, Settings};
/// use tokio_util::sync::CancellationToken;
///
/// # async fn demo(fleet: om_orchestrator::Fleet) -> Result<(), om_gateway::Error> {
/// let gateway = Gateway::bind(fleet, Settings::default()).await?;
/// println!("listening on http://{}", gateway.local_addr());
/// let shutdown = CancellationToken::new();
/// gateway.run(shutdown.child_token()).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Gateway {
    listener: TcpListener,
    local_addr: SocketAddr,
    fleet: Fleet,
    settings: Settings,
    served: Option<Served>,
    /// HTTPS, when the settings name a certificate.
    tls: Option<Arc<ServerConfig>>,
}

impl Gateway {
    /// Binds `settings.listen` (port 0 picks a free port) and prepares to
    /// serve `fleet`.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a non-loopback address without a
    /// token (unless [`Settings::insecure_no_auth`]); [`Error::Bind`] when
    /// the address cannot be bound; [`Error::Tls`] when the certificate or
    /// key of [`Settings::tls`] cannot be used.
    pub async fn bind(fleet: Fleet, settings: Settings) -> Result<Self, Error> {
        settings.check()?;
        let tls = settings.tls.as_ref().map(crate::tls::server_config).transpose()?;
        let addr = settings.listen;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
        let settings = Settings { listen: local_addr, ..settings };
        Ok(Self { listener, local_addr, fleet, settings, served: None, tls })
    }

    /// Counts in `served` the endpoints that answer this gateway's model
    /// requests.
    #[must_use]
    pub fn count_served(mut self, served: &Served) -> Self {
        self.served = Some(served.clone());
        self
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled. Then it stops accepting, lets
    /// the answers under way finish for up to
    /// [`Settings::shutdown_grace`] (idle keep-alive connections close at
    /// once), closes the connections still open, and returns once every
    /// connection task has ended.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the listener at once; connections being
    /// served end when their tasks notice (at their next await), without
    /// the grace period. Cancel `shutdown` and await the future instead.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self { listener, local_addr, fleet, settings, served, tls } = self;
        let grace = settings.shutdown_grace;
        let header_read_timeout = settings.header_read_timeout;
        let max_connections = settings.max_connections;
        let app = App::new(fleet, settings, served);
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %local_addr, scheme, "gateway listening");
        let tracker = TaskTracker::new();
        // Cancelled at shutdown: idle connections close, busy ones after
        // their answer.
        let drain = CancellationToken::new();
        // Cancelled when the grace period is over: closes what is left.
        let close = CancellationToken::new();
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead
                    // of spinning on the error.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "set_nodelay failed");
            }
            // Past the connection limit a connection is still read — its
            // requests are answered 503 with `Retry-After`, then it is
            // closed — so a client learns to back off instead of hanging
            // in the listen backlog.
            let overloaded = tracker.len() >= max_connections;
            if overloaded {
                tracing::debug!(%peer, limit = max_connections, "connection over the limit");
            }
            let app = app.clone();
            let service = move |request| {
                let app = app.clone();
                // Boxed: the unboxed future is kilobytes (every await of
                // routing and forwarding), and the connection's own
                // future would be that much larger for its whole life.
                let answer: BoxedAnswer = Box::pin(async move {
                    if overloaded {
                        app.over_connection_limit(&request)
                    } else {
                        app.handle(request).await
                    }
                });
                answer
            };
            // HTTP/1.1 with keep-alive; a limit on how long a request head
            // may take (an idle or slow client cannot hold a task forever),
            // none on how long an answer may stream.
            let config = ServeConfig {
                header_read_timeout,
                keep_alive: !overloaded,
                ..ServeConfig::default()
            };
            let drain = drain.clone();
            let close = close.clone();
            let tls = tls.clone().map(TlsAcceptor::from);
            tracker.spawn(async move {
                let served = async {
                    match tls {
                        None => serve_connection(Box::new(stream), &config, service, &drain).await,
                        // The handshake gets the time a request head gets.
                        // Boxed: a TLS stream is large, and unboxed it would
                        // grow every plain connection's task to its size.
                        Some(tls) => Box::pin(async move {
                            match tokio::time::timeout(header_read_timeout, tls.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => {
                                    serve_connection(Box::new(stream), &config, service, &drain)
                                        .await
                                }
                                Ok(Err(err)) => {
                                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                    Ok(())
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    Ok(())
                                }
                            }
                        })
                        .await,
                    }
                };
                tokio::select! {
                    result = served => {
                        if let Err(err) = result {
                            tracing::debug!(%peer, error = %err, "connection ended with an error");
                        }
                    }
                    () = close.cancelled() => {
                        tracing::debug!(%peer, "connection closed after the shutdown grace period");
                    }
                }
            });
        }
        drop(listener);
        tracing::info!(connections = tracker.len(), "gateway stopping");
        tracker.close();
        drain.cancel();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "closing connections still busy");
            close.cancel();
        }
        tracker.wait().await;
        tracing::info!("gateway stopped");
    }
}
