//! The accept loop: one hyper HTTP/1 connection per accepted socket, tracked
//! and drained on shutdown, plus [`SimControl`] for changing faults live.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::fault::Faults;
use crate::routes::App;
use crate::spec::EndpointSpec;

/// How long in-flight requests may go on after shutdown is asked for before
/// their connections are closed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A simulated Ollama endpoint bound to a socket, ready to [`run`](Self::run).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use om_sim::{EndpointSpec, SimServer};
/// use tokio_util::sync::CancellationToken;
///
/// let server = SimServer::bind("127.0.0.1:11434".parse().unwrap(), EndpointSpec::default()).await?;
/// let shutdown = CancellationToken::new();
/// server.run(shutdown.child_token()).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SimServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: App,
    control: SimControl,
}

impl SimServer {
    /// Binds `addr` and prepares an endpoint that behaves as `spec` says.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn bind(addr: SocketAddr, spec: EndpointSpec) -> io::Result<Self> {
        Self::from_listener(TcpListener::bind(addr).await?, spec)
    }

    /// Serves on an already bound std listener (must be called inside a
    /// tokio runtime).
    ///
    /// # Errors
    ///
    /// When the listener cannot be registered with tokio.
    pub fn from_std(listener: std::net::TcpListener, spec: EndpointSpec) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        Self::from_listener(TcpListener::from_std(listener)?, spec)
    }

    fn from_listener(listener: TcpListener, spec: EndpointSpec) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (faults_tx, faults_rx) = watch::channel(spec.faults.clone());
        let app = App::new(spec, faults_rx, local_addr);
        Ok(Self { listener, local_addr, app, control: SimControl { faults: Arc::new(faults_tx) } })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for changing the endpoint's behaviour while it runs.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, gives
    /// in-flight requests [`SHUTDOWN_GRACE`] to finish and closes every
    /// connection.
    pub async fn run(self, shutdown: CancellationToken) {
        let name = self.app.shared().name.clone();
        tracing::info!(endpoint = %name, addr = %self.local_addr, "simulator listening");
        let tracker = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead
                    // of spinning.
                    tracing::warn!(endpoint = %name, error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if self.app.is_down() {
                // Flapping: close at once, as a dead server would.
                drop(stream);
                continue;
            }
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "set_nodelay failed");
            }
            tracker.spawn(serve_connection(stream, self.app.clone(), shutdown.clone()));
        }
        drop(self.listener);
        tracker.close();
        tracker.wait().await;
        tracing::info!(endpoint = %name, "simulator stopped");
    }
}

/// Serves one connection until it closes, or until shutdown plus the grace
/// period.
async fn serve_connection(stream: TcpStream, app: App, shutdown: CancellationToken) {
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let span = tracing::debug_span!(
            "request",
            endpoint = %app.shared().name,
            method = %request.method(),
            path = request.uri().path(),
        );
        app.clone().handle(request).instrument(span)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            return;
        }
        () = shutdown.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    if tokio::time::timeout(SHUTDOWN_GRACE, connection).await.is_err() {
        tracing::debug!("connection closed after the shutdown grace period");
    }
}

/// Changes a running endpoint's behaviour; cheap to clone.
///
/// Faults are published through a `watch` channel: each request reads the
/// faults in force when it starts.
#[derive(Debug, Clone)]
pub struct SimControl {
    faults: Arc<watch::Sender<Faults>>,
}

impl SimControl {
    /// The faults in force now.
    pub fn faults(&self) -> Faults {
        self.faults.borrow().clone()
    }

    /// Puts `faults` in force for requests that start from now on, and
    /// returns the ones they replace.
    pub fn replace_faults(&self, faults: Faults) -> Faults {
        self.faults.send_replace(faults)
    }

    /// Turns every fault off.
    pub fn clear_faults(&self) {
        self.faults.send_replace(Faults::default());
    }
}
