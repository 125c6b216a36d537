//! One server connection: requests read one after another (HTTP/1.1
//! keep-alive), each handed to a service, its answer written as it comes.
//!
//! The connection's read buffer is emptied and freed while an answer
//! streams, and nothing else is buffered on the way out: an open stream
//! holds the socket, a small state, and whatever the answer itself holds.
//! While the service works on a request, and while its answer streams, the
//! socket is watched: a client that goes away drops the service's future
//! or the answer at once, which is how a disconnect reaches upstream.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::framing::{Framing, LAST_CHUNK, Step, chunk_header};
use crate::head::{BodyHeader, RequestHead, parse_request, write_response};

/// A byte stream a connection runs over: TCP, TLS over TCP, or a test's
/// in-memory pipe.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// How a server connection behaves.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// How long a request head may take to arrive, counted from when the
    /// connection starts waiting for it (so an idle keep-alive connection
    /// is closed after this long too).
    pub header_read_timeout: Duration,
    /// The longest request head accepted; a longer one is answered 431.
    pub max_head_bytes: usize,
    /// Whether connections are kept open between requests.
    pub keep_alive: bool,
}

impl Default for ServeConfig {
    /// 30 s for a head, 64 KiB heads, keep-alive on.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_head_bytes: 64 * 1024,
            keep_alive: true,
        }
    }
}

/// Bytes asked of the socket at a time for a request head.
const HEAD_READ: usize = 1024;
/// Bytes asked of the socket at a time for a request body.
const BODY_READ: usize = 16 * 1024;
/// Read buffer kept between requests; a larger one (after a big body) is
/// given back.
const KEEP_BUFFER: usize = 4 * 1024;
/// Bytes of a pipelined next request buffered while an answer is under
/// way; past it the socket is no longer watched until the answer is done.
const MAX_PIPELINED: usize = 16 * 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The reading side of a connection, lent to a request's body and given
/// back when the body is dropped.
struct Reading {
    io: Box<dyn Io>,
    buf: BytesMut,
    framing: Framing,
    /// Bytes of `100 Continue` still to write before the body is read.
    continue_left: usize,
    /// The body broke (a bad chunk, a read error): the connection ends
    /// after the answer.
    broken: bool,
}

impl Reading {
    /// Reads more into `buf` (room for at least `want` bytes): `Ok(0)` at
    /// EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<std::io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < want {
            self.buf.reserve(want);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }

    /// Watches the socket while an answer is under way: `Ready(true)` when
    /// the client went away, `Ready(false)` when enough of a next request
    /// is buffered that watching stops.
    fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.buf.len() >= MAX_PIPELINED {
                return Poll::Ready(false);
            }
            // Read through a small stack buffer, so that the connection
            // keeps no heap buffer while it waits.
            let mut space = [0_u8; 256];
            let mut read = ReadBuf::new(&mut space);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)) {
                Ok(()) if read.filled().is_empty() => return Poll::Ready(true),
                Ok(()) => self.buf.extend_from_slice(read.filled()),
                Err(_) => return Poll::Ready(true),
            }
        }
    }

    /// Decodes what is left of the request body from what is already
    /// buffered, without reading: true when the body is complete and the
    /// connection can carry another request.
    fn finish_body(&mut self) -> bool {
        if self.broken {
            return false;
        }
        loop {
            match self.framing.decode(&mut self.buf) {
                Ok(Step::Data(_)) => {}
                Ok(Step::End) => return true,
                Ok(Step::More) | Err(_) => return false,
            }
        }
    }

    /// Gives back a buffer grown by a large head or body.
    fn trim(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        } else if self.buf.capacity() > KEEP_BUFFER {
            self.buf = BytesMut::from(&self.buf[..]);
        }
    }
}

/// A request's body, read from the connection as the service asks for it.
///
/// Read it to its end for the connection to carry another request; one
/// dropped early ends the connection after the answer. A body that breaks
/// (the client stops mid-body, a bad chunk) yields the error once.
pub struct RequestBody {
    reading: Option<Box<Reading>>,
    back: Option<oneshot::Sender<Box<Reading>>>,
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if let (Some(reading), Some(back)) = (self.reading.take(), self.back.take()) {
            // The connection may be gone already; then so is the socket.
            let _ = back.send(reading);
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let Some(reading) = self.get_mut().reading.as_mut() else { return Poll::Ready(None) };
        if reading.broken {
            return Poll::Ready(None);
        }
        while reading.continue_left > 0 {
            let from = CONTINUE.len() - reading.continue_left;
            match ready!(Pin::new(&mut reading.io).poll_write(cx, &CONTINUE[from..])) {
                Ok(n) if n > 0 => reading.continue_left -= n,
                Ok(_) => {
                    reading.broken = true;
                    return Poll::Ready(Some(Err(Error::new(
                        ErrorKind::Closed,
                        "client went away",
                    ))));
                }
                Err(e) => {
                    reading.broken = true;
                    return Poll::Ready(Some(Err(Error::io(
                        ErrorKind::Io,
                        "writing 100 Continue",
                        e,
                    ))));
                }
            }
        }
        loop {
            let step = match reading.framing.decode(&mut reading.buf) {
                Ok(step) => step,
                Err(error) => {
                    reading.broken = true;
                    return Poll::Ready(Some(Err(error)));
                }
            };
            match step {
                Step::Data(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Step::End => return Poll::Ready(None),
                Step::More => {}
            }
            let want = match reading.framing {
                Framing::Length(left) => (left as usize).clamp(1, BODY_READ),
                _ => BODY_READ,
            };
            match ready!(reading.poll_fill(cx, want)) {
                Ok(0) => {
                    reading.broken = true;
                    let error = reading.framing.at_eof().err().unwrap_or_else(|| {
                        Error::new(ErrorKind::Closed, "the client closed before the body ended")
                    });
                    return Poll::Ready(Some(Err(error)));
                }
                Ok(_) => {}
                Err(e) => {
                    reading.broken = true;
                    return Poll::Ready(Some(Err(Error::io(
                        ErrorKind::Io,
                        "reading the request body",
                        e,
                    ))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.reading.as_ref().is_none_or(|r| r.broken || r.framing.is_done())
    }

    fn size_hint(&self) -> SizeHint {
        match self.reading.as_ref().and_then(|r| r.framing.exact()) {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Serves one connection until the client closes it, a request says
/// `Connection: close`, a head does not arrive in time, the socket fails,
/// or `drain` is cancelled (an idle connection closes at once, a busy one
/// after its answer).
///
/// # Errors
///
/// Why the connection ended badly: a malformed head (answered 400 first),
/// a head too large (431), a failed write. A client going away is not an
/// error.
pub async fn serve_connection<S, F, B>(
    io: Box<dyn Io>,
    config: &ServeConfig,
    mut service: S,
    drain: &CancellationToken,
) -> Result<(), Error>
where
    S: FnMut(Request<RequestBody>) -> F,
    F: Future<Output = Response<B>>,
    B: Body<Data = Bytes>,
    B::Error: fmt::Display,
{
    let mut reading = Box::new(Reading {
        io,
        buf: BytesMut::new(),
        framing: Framing::Empty,
        continue_left: 0,
        broken: false,
    });
    loop {
        let head = tokio::select! {
            biased;
            () = drain.cancelled(), if reading.buf.is_empty() => return Ok(()),
            head = tokio::time::timeout(config.header_read_timeout, read_head(&mut reading, config.max_head_bytes)) => head,
        };
        let head = match head {
            Err(_) => {
                tracing::debug!("request head timed out");
                return Ok(());
            }
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(error)) => {
                let status = if error.is_too_large() {
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                if !error.is_closed() {
                    refuse(&mut reading.io, status, &error.to_string()).await;
                }
                return Err(error);
            }
        };
        let RequestHead { parts, framing, keep_alive, expect_continue } = head;
        let head_only = parts.method == Method::HEAD;
        let version = parts.version;
        reading.framing = framing;
        reading.continue_left = if expect_continue { CONTINUE.len() } else { 0 };
        let (back, mut returned) = oneshot::channel();
        let body = RequestBody { reading: Some(reading), back: Some(back) };
        let answer = service(Request::from_parts(parts, body));
        let Some((response, lent)) = answer_or_gone(answer, &mut returned).await else {
            tracing::debug!("client went away before the answer");
            return Ok(());
        };
        // The answer holds the request body: the connection cannot read
        // on, so it ends here.
        let Some(lent) = lent.or_else(|| returned.try_recv().ok()) else {
            tracing::debug!("the answer kept the request body; closing");
            return Ok(());
        };
        reading = lent;
        let body_done = reading.finish_body();
        reading.continue_left = 0;
        reading.trim();
        let close = !keep_alive || !body_done || !config.keep_alive || drain.is_cancelled();
        let close = write_answer(&mut reading, response, head_only, version, close).await?;
        if close {
            let _ = reading.io.shutdown().await;
            return Ok(());
        }
        reading.broken = false;
    }
}

/// Reads until a whole request head is buffered: `None` on a clean close
/// before any byte of it.
async fn read_head(reading: &mut Reading, max: usize) -> Result<Option<RequestHead>, Error> {
    loop {
        if !reading.buf.is_empty() {
            if let Some((head, len)) = parse_request(&reading.buf)? {
                reading.buf.advance(len);
                return Ok(Some(head));
            }
            if reading.buf.len() >= max {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("the request head is longer than {max} bytes"),
                ));
            }
        }
        let n = std::future::poll_fn(|cx| reading.poll_fill(cx, HEAD_READ))
            .await
            .map_err(|e| Error::io(ErrorKind::Io, "reading a request head", e))?;
        if n == 0 {
            if reading.buf.is_empty() {
                return Ok(None);
            }
            return Err(Error::new(ErrorKind::Closed, "the client closed mid-head"));
        }
    }
}

/// Awaits the service's answer. Once the request body is given back, the
/// socket is watched too: `None` when the client goes away first (the
/// answer's future is dropped then).
async fn answer_or_gone<F: Future>(
    answer: F,
    returned: &mut oneshot::Receiver<Box<Reading>>,
) -> Option<(F::Output, Option<Box<Reading>>)> {
    let mut answer = pin!(answer);
    let mut lent: Option<Box<Reading>> = None;
    let mut waiting = true;
    let mut watching = true;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = answer.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if waiting
            && lent.is_none()
            && let Poll::Ready(back) = Pin::new(&mut *returned).poll(cx)
        {
            waiting = false;
            lent = back.ok();
        }
        if let Some(reading) = lent.as_mut().filter(|_| watching)
            && let Poll::Ready(gone) = reading.poll_gone(cx)
        {
            if gone {
                return Poll::Ready(None);
            }
            watching = false;
        }
        Poll::Pending
    })
    .await
    .map(|output| (output, lent.take()))
}

/// Writes a response; true when the connection must close after it.
async fn write_answer<B>(
    reading: &mut Reading,
    response: Response<B>,
    head_only: bool,
    version: Version,
    mut close: bool,
) -> Result<bool, Error>
where
    B: Body<Data = Bytes>,
    B::Error: fmt::Display,
{
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let exact = body.size_hint().exact();
    let framing = if bodiless {
        BodyHeader::None
    } else if let Some(n) = exact {
        BodyHeader::Length(n)
    } else if head_only {
        BodyHeader::None
    } else if version == Version::HTTP_11 {
        BodyHeader::Chunked
    } else {
        // An HTTP/1.0 client reads to the close.
        close = true;
        BodyHeader::None
    };
    let written = |e| Error::io(ErrorKind::Io, "writing the answer", e);
    let mut body = pin!(body);
    if head_only || bodiless {
        let head = write_response(status, &parts.headers, framing, close, 0);
        reading.io.write_all(&head).await.map_err(written)?;
        reading.io.flush().await.map_err(written)?;
        return Ok(close);
    }
    if let BodyHeader::Length(n) = framing {
        // A whole body: with its head in one write.
        let mut out = write_response(status, &parts.headers, framing, close, n as usize);
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data);
                    }
                }
                Err(error) => {
                    tracing::debug!(error = %error, "answer body failed");
                    return Ok(true);
                }
            }
        }
        reading.io.write_all(&out).await.map_err(written)?;
        reading.io.flush().await.map_err(written)?;
        return Ok(close);
    }
    let head = write_response(status, &parts.headers, framing, close, 0);
    reading.io.write_all(&head).await.map_err(written)?;
    reading.io.flush().await.map_err(written)?;
    drop(head);
    let chunked = framing == BodyHeader::Chunked;
    let mut watching = true;
    loop {
        let next = std::future::poll_fn(|cx| {
            if let Poll::Ready(frame) = body.as_mut().poll_frame(cx) {
                return Poll::Ready(Some(frame));
            }
            if watching && let Poll::Ready(gone) = reading.poll_gone(cx) {
                if gone {
                    return Poll::Ready(None);
                }
                watching = false;
            }
            Poll::Pending
        })
        .await;
        let frame = match next {
            // The client went away: dropping the body tells upstream.
            None => return Ok(true),
            Some(None) => break,
            Some(Some(Ok(frame))) => frame,
            Some(Some(Err(error))) => {
                // Ending without the last chunk tells the client the
                // answer broke.
                tracing::debug!(error = %error, "answer body failed");
                return Ok(true);
            }
        };
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        if chunked {
            let header = chunk_header(data.len());
            let mut out = header.as_ref().chain(data).chain(&b"\r\n"[..]);
            reading.io.write_all_buf(&mut out).await.map_err(written)?;
        } else {
            let mut data = data;
            reading.io.write_all_buf(&mut data).await.map_err(written)?;
        }
        reading.io.flush().await.map_err(written)?;
    }
    if chunked {
        reading.io.write_all(LAST_CHUNK).await.map_err(written)?;
        reading.io.flush().await.map_err(written)?;
    }
    Ok(close)
}

/// Answers a request that could not be read, before closing.
async fn refuse(io: &mut Box<dyn Io>, status: StatusCode, message: &str) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let mut out = write_response(
        status,
        &headers,
        BodyHeader::Length(message.len() as u64),
        true,
        message.len(),
    );
    out.extend_from_slice(message.as_bytes());
    let _ = io.write_all(&out).await;
    let _ = io.shutdown().await;
}
