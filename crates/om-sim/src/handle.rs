//! A test and example convenience: a simulator on an ephemeral loopback port,
//! running on the current runtime until stopped.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server::{SimControl, SimServer};
use crate::spec::EndpointSpec;

/// A running simulator started by [`spawn`] or [`try_spawn`].
///
/// Stop it with [`SimHandle::stop`], which waits until every connection is
/// closed. Dropping the handle only asks the server to stop; the task then
/// winds down on the runtime by itself.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    control: SimControl,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// Starts a simulator behaving as `spec` on `127.0.0.1:0`, on the current
/// tokio runtime.
///
/// # Panics
///
/// When no loopback port can be bound or when called outside a tokio
/// runtime; use [`try_spawn`] to handle the first case.
pub fn spawn(spec: EndpointSpec) -> SimHandle {
    try_spawn(spec).expect("binding an ephemeral port on 127.0.0.1")
}

/// Like [`spawn`], returning the bind error instead of panicking.
///
/// # Errors
///
/// When no loopback port can be bound.
///
/// # Panics
///
/// When called outside a tokio runtime.
pub fn try_spawn(spec: EndpointSpec) -> io::Result<SimHandle> {
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let server = SimServer::from_std(listener, spec)?;
    let addr = server.local_addr();
    let control = server.control();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(shutdown.clone()));
    Ok(SimHandle { addr, control, shutdown, task: Some(task) })
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The runtime control of the server.
    pub fn control(&self) -> &SimControl {
        &self.control
    }

    /// Stops the server and waits until it has closed every connection (at
    /// most [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE) after in-flight
    /// requests).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take()
            && let Err(err) = task.await
        {
            tracing::warn!(error = %err, "simulator task failed");
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
