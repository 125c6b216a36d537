//! The client half: connections to an origin (plain TCP or TLS), one
//! request at a time each, kept in a pool between requests.
//!
//! A connection holds a read buffer sized to what arrives (it starts at
//! 1 KiB, grows while reads fill it, shrinks back when they do not) and
//! nothing on the way out: a request is written in one buffer, which is
//! dropped once sent. A response body is read straight from the socket;
//! read to its end, its connection goes back to the pool, and dropped
//! before that, the connection closes — which is how a server learns that
//! its client went away.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::HOST;
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use parking_lot::Mutex;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, ErrorKind};
use crate::framing::{Framing, Step};
use crate::head::{BodyHeader, ResponseHead, parse_response, write_request};

/// The smallest read of a response; reads double while they fill the
/// room given and halve when they do not, between this and [`MAX_READ`].
const MIN_READ: usize = 1024;
const MAX_READ: usize = 64 * 1024;
/// The longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// A request body up to this size goes out in the head's buffer.
const INLINE_BODY: usize = 64 * 1024;

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long a new connection may take (TCP and TLS); `None` for no
    /// limit but the system's.
    pub connect_timeout: Option<Duration>,
    /// How long an unused connection stays in the pool.
    pub idle_timeout: Option<Duration>,
    /// How many unused connections are kept per origin.
    pub max_idle_per_origin: usize,
    /// TCP keep-alive probes after this much silence, so a peer that
    /// vanished without a FIN is noticed.
    pub tcp_keepalive: Option<Duration>,
    /// TLS for `https` origins.
    pub tls: Arc<rustls::ClientConfig>,
}

/// A pooled HTTP/1.1 client. Cloning it is cheap, and clones share one
/// pool.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle: usize = self.shared.idle.lock().values().map(Vec::len).sum();
        f.debug_struct("Client").field("idle", &idle).finish_non_exhaustive()
    }
}

struct Shared {
    config: ClientConfig,
    tls: TlsConnector,
    idle: Mutex<HashMap<Origin, Vec<Idle>>>,
}

/// A pooled connection and when it was put back.
struct Idle {
    conn: Box<Conn>,
    since: Instant,
}

/// Where connections go: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    /// Without the brackets of an IPv6 literal.
    host: Arc<str>,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Self, Error> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") | None => false,
            Some(other) => {
                return Err(Error::new(ErrorKind::Connect, format!("unsupported scheme {other}")));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::new(ErrorKind::Connect, format!("{uri} names no host")))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Self { https, host: host.into(), port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The byte stream of a connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// An open connection's state.
struct Conn {
    stream: Stream,
    buf: BytesMut,
    /// The next read's size.
    next_read: usize,
}

impl Conn {
    /// Reads more into `buf`: `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let want = self.next_read;
        if self.buf.capacity() - self.buf.len() < want {
            if self.buf.is_empty() {
                // Pieces handed out may still share the old allocation;
                // a fresh one of the size wanted is never larger.
                self.buf = BytesMut::with_capacity(want);
            } else {
                self.buf.reserve(want);
            }
        }
        let n =
            ready!(tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf))?;
        if n >= want {
            self.next_read = (want * 2).min(MAX_READ);
        } else if n < want / 2 {
            self.next_read = (want / 2).max(MIN_READ);
        }
        Poll::Ready(Ok(n))
    }

    /// True when a pooled connection still looks usable: nothing to read,
    /// no EOF, no error.
    fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0_u8; 1];
        let mut read = ReadBuf::new(&mut byte);
        matches!(Pin::new(&mut self.stream).poll_read(&mut cx, &mut read), Poll::Pending)
    }
}

impl Client {
    /// A client with an empty pool.
    pub fn new(mut config: ClientConfig) -> Self {
        let mut tls = rustls::ClientConfig::clone(&config.tls);
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.tls = Arc::new(tls);
        let tls = TlsConnector::from(config.tls.clone());
        Self { shared: Arc::new(Shared { config, tls, idle: Mutex::new(HashMap::new()) }) }
    }

    /// A connection to the origin of `uri`: an idle one from the pool
    /// when there is one ([`Connection::is_reused`]), else a new one.
    ///
    /// # Errors
    ///
    /// [`Error::is_connect`] when no connection could be made (and
    /// [`Error::is_timeout`] when not in time).
    pub async fn connect(&self, uri: &Uri) -> Result<Connection, Error> {
        let origin = Origin::of(uri)?;
        if let Some(conn) = self.checkout(&origin) {
            return Ok(Connection {
                conn,
                origin,
                pool: Arc::downgrade(&self.shared),
                reused: true,
            });
        }
        self.open(origin).await
    }

    /// A new connection to the origin of `uri`, never a pooled one.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_new(&self, uri: &Uri) -> Result<Connection, Error> {
        self.open(Origin::of(uri)?).await
    }

    async fn open(&self, origin: Origin) -> Result<Connection, Error> {
        let connecting = self.dial(&origin);
        let stream = match self.shared.config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting).await.map_err(|_| {
                Error::new(
                    ErrorKind::ConnectTimeout,
                    format!("connecting to {origin} took longer than {} ms", limit.as_millis()),
                )
            })??,
            None => connecting.await?,
        };
        let conn = Box::new(Conn { stream, buf: BytesMut::new(), next_read: MIN_READ });
        Ok(Connection { conn, origin, pool: Arc::downgrade(&self.shared), reused: false })
    }

    async fn dial(&self, origin: &Origin) -> Result<Stream, Error> {
        let tcp = TcpStream::connect((&*origin.host, origin.port))
            .await
            .map_err(|e| Error::io(ErrorKind::Connect, format!("cannot connect to {origin}"), e))?;
        // Tokens are small writes that must not wait for Nagle.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "set_nodelay failed");
        }
        if let Some(idle) = self.shared.config.tcp_keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            if let Err(error) = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive) {
                tracing::debug!(%error, "TCP keep-alive not set");
            }
        }
        if !origin.https {
            return Ok(Stream::Plain(tcp));
        }
        let name = ServerName::try_from(origin.host.to_string()).map_err(|_| {
            Error::new(ErrorKind::Connect, format!("{} is not a TLS server name", origin.host))
        })?;
        // Boxed: a handshake's state is over a kilobyte, and inline it
        // would be in every plain connection's future too.
        let tls = Box::pin(self.shared.tls.connect(name, tcp))
            .await
            .map_err(|e| Error::io(ErrorKind::Connect, format!("TLS with {origin} failed"), e))?;
        Ok(Stream::Tls(Box::new(tls)))
    }

    /// An idle connection to `origin` that still looks open; stale and
    /// expired ones met on the way are closed.
    fn checkout(&self, origin: &Origin) -> Option<Box<Conn>> {
        let mut idle = self.shared.idle.lock();
        let list = idle.get_mut(origin)?;
        let limit = self.shared.config.idle_timeout;
        while let Some(mut entry) = list.pop() {
            if limit.is_some_and(|limit| entry.since.elapsed() >= limit) {
                continue;
            }
            if entry.conn.is_open() {
                return Some(entry.conn);
            }
        }
        None
    }
}

impl Shared {
    /// Puts a connection whose exchange is complete back in the pool.
    fn checkin(&self, origin: Origin, mut conn: Box<Conn>) {
        conn.buf = BytesMut::new();
        conn.next_read = MIN_READ;
        let now = Instant::now();
        let mut idle = self.idle.lock();
        if let Some(limit) = self.config.idle_timeout {
            idle.retain(|_, list| {
                list.retain(|entry| now.duration_since(entry.since) < limit);
                !list.is_empty()
            });
        }
        let list = idle.entry(origin).or_default();
        if list.len() < self.config.max_idle_per_origin {
            list.push(Idle { conn, since: now });
        }
    }
}

/// A connection ready to carry one request.
pub struct Connection {
    conn: Box<Conn>,
    origin: Origin,
    pool: Weak<Shared>,
    reused: bool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("origin", &format_args!("{}", self.origin))
            .field("reused", &self.reused)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// True for a connection taken from the pool. Its server may have
    /// closed it just as it was taken: a request that fails on it with
    /// [`Error::is_closed`] before any answer can be sent again on a new
    /// connection.
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Sends `request` (its URI's path and query as the target; `Host`
    /// from its URI unless set) and reads the response head; the body is
    /// read as the returned response's body is polled.
    ///
    /// # Errors
    ///
    /// [`Error::is_closed`] when the connection closed before a response
    /// head; I/O and malformed-head errors otherwise.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connection.
    pub async fn send(self, request: Request<Bytes>) -> Result<Response<ResponseBody>, Error> {
        let Self { mut conn, origin, pool, .. } = self;
        let (parts, body) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut headers = parts.headers;
        if !headers.contains_key(HOST) {
            let host = match parts.uri.port_u16() {
                Some(port) if port != if origin.https { 443 } else { 80 } => {
                    format!("{}:{port}", parts.uri.host().unwrap_or(""))
                }
                _ => parts.uri.host().unwrap_or("").to_owned(),
            };
            if let Ok(value) = HeaderValue::from_str(&host) {
                headers.insert(HOST, value);
            }
        }
        let sends_body =
            !body.is_empty() || matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
        let framing =
            if sends_body { BodyHeader::Length(body.len() as u64) } else { BodyHeader::None };
        let inline = if body.len() <= INLINE_BODY { body.len() } else { 0 };
        let mut out = write_request(&parts.method, target, &headers, framing, inline);
        let written = |e| Error::io(ErrorKind::Io, format!("sending the request to {origin}"), e);
        if inline > 0 {
            out.extend_from_slice(&body);
            conn.stream.write_all(&out).await.map_err(written)?;
        } else {
            conn.stream.write_all(&out).await.map_err(written)?;
            conn.stream.write_all(&body).await.map_err(written)?;
        }
        drop(out);
        conn.stream.flush().await.map_err(written)?;
        let head = read_head(&mut conn, &parts.method, &origin).await?;
        let ResponseHead { parts, framing, keep_alive } = head;
        let body = ResponseBody {
            state: Some(Box::new(Receiving { conn, origin, pool })),
            framing,
            keep_alive,
            finished: false,
        };
        Ok(Response::from_parts(parts, body))
    }
}

/// Reads a final response head, skipping interim (1xx) ones.
async fn read_head(
    conn: &mut Conn,
    method: &Method,
    origin: &Origin,
) -> Result<ResponseHead, Error> {
    let mut any = false;
    loop {
        if !conn.buf.is_empty() {
            if let Some((head, len)) = parse_response(&conn.buf, method)? {
                conn.buf.advance(len);
                if head.parts.status.is_informational() {
                    if head.parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
                        return Err(Error::new(
                            ErrorKind::Malformed,
                            "unexpected 101 Switching Protocols",
                        ));
                    }
                    continue;
                }
                return Ok(head);
            }
            if conn.buf.len() >= MAX_HEAD {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("the response head from {origin} is longer than {MAX_HEAD} bytes"),
                ));
            }
        }
        let n = std::future::poll_fn(|cx| conn.poll_fill(cx)).await.map_err(|e| {
            let kind = if crate::error::is_disconnect(e.kind()) && !any {
                ErrorKind::Closed
            } else {
                ErrorKind::Io
            };
            Error::io(kind, format!("reading the response head from {origin}"), e)
        })?;
        if n == 0 {
            // Before any byte of an answer, the request can go again on
            // another connection (`Closed`); mid-head it cannot.
            let kind = if any { ErrorKind::Io } else { ErrorKind::Closed };
            return Err(Error::new(
                kind,
                format!("{origin} closed the connection before the end of the response head"),
            ));
        }
        any = true;
    }
}

/// What a response body reads from, and where its connection goes after.
struct Receiving {
    conn: Box<Conn>,
    origin: Origin,
    pool: Weak<Shared>,
}

/// A response body, read from its connection as it is polled.
///
/// Read to its end (and on a connection that stays open), the connection
/// goes back to the pool; dropped before, the connection closes.
pub struct ResponseBody {
    /// `None` once the body ended (or broke).
    state: Option<Box<Receiving>>,
    framing: Framing,
    keep_alive: bool,
    finished: bool,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").field("finished", &self.finished).finish_non_exhaustive()
    }
}

impl ResponseBody {
    fn end(&mut self) {
        self.finished = true;
        if let Some(state) = self.state.take() {
            let Receiving { conn, origin, pool } = *state;
            if self.keep_alive
                && conn.buf.is_empty()
                && let Some(pool) = pool.upgrade()
            {
                pool.checkin(origin, conn);
            }
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.finished = true;
        self.state = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        loop {
            let Some(state) = this.state.as_mut() else { return Poll::Ready(None) };
            match this.framing.decode(&mut state.conn.buf) {
                Ok(Step::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Step::End) => {
                    this.end();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => {}
                Err(error) => return this.fail(error),
            }
            match ready!(state.conn.poll_fill(cx)) {
                Ok(0) => match this.framing.at_eof() {
                    Ok(_) => {
                        this.keep_alive = false;
                        this.end();
                        return Poll::Ready(None);
                    }
                    Err(error) => return this.fail(error),
                },
                Ok(_) => {}
                Err(e) => {
                    let error = Error::io(
                        ErrorKind::Io,
                        format!("reading the response body from {}", state.origin),
                        e,
                    );
                    return this.fail(error);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.framing.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing.exact() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
