//! Reading a response body frame by frame under the first-byte, idle and
//! total limits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Body as _;
use om_http::ResponseBody;
use tokio::time::{Instant, Sleep};

use om_core::{Error, ErrorKind, TimeoutPhase};

use crate::errors;
use crate::openai::Translator;
use crate::timeouts::earliest;

/// A response body plus the clocks that bound reading it.
///
/// # Cancel safety
///
/// Dropping it drops the response body; a body that was not read to its end
/// closes its connection instead of returning it to the pool, which is how
/// Ollama learns that the client went away and stops generating.
#[derive(Debug)]
pub(crate) struct BodyReader {
    raw: Raw,
    /// Turns an OpenAI-compatible endpoint's answer into native bytes.
    translator: Option<Box<Translator>>,
}

/// The body as the endpoint sends it.
#[derive(Debug)]
struct Raw {
    body: ResponseBody,
    /// Until the first data bytes.
    first_byte: Option<Instant>,
    /// The longest gap between data frames after the first.
    idle: Option<Duration>,
    /// The whole call.
    total: Option<Instant>,
    /// When the last data frame came; `None` before the first.
    last_data: Option<Instant>,
    /// One timer for every limit, armed when a read must wait and moved
    /// only when it fires early or the limit in force comes sooner: the
    /// idle limit moves on with every frame, and re-arming a timer per
    /// frame (a trip through the timer wheel each) would cost more than
    /// the frame.
    timer: Option<Pin<Box<Sleep>>>,
}

/// Why a body could not be read further.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// A limit ran out.
    Timeout(TimeoutPhase),
    /// The connection broke.
    Body(om_http::Error),
    /// The answer of an OpenAI-compatible endpoint could not be converted.
    Translate(Error),
}

impl ReadFailure {
    pub(crate) fn into_error(self, endpoint: &str, partial: bool) -> Error {
        match self {
            Self::Timeout(phase) => errors::timeout(phase, endpoint, partial),
            Self::Body(err) => errors::from_body_error(err, endpoint, partial),
            Self::Translate(err) => err.with_endpoint(endpoint).with_partial(partial),
        }
    }
}

impl BodyReader {
    pub(crate) fn new(
        body: ResponseBody,
        first_byte: Option<Instant>,
        idle: Option<Duration>,
        total: Option<Instant>,
    ) -> Self {
        let raw = Raw { body, first_byte, idle, total, last_data: None, timer: None };
        Self { raw, translator: None }
    }

    /// Reads the body through `translator`.
    pub(crate) fn translated(mut self, translator: Option<Box<Translator>>) -> Self {
        self.translator = translator;
        self
    }

    /// The next non-empty data chunk, or `None` at the end of the body:
    /// for an OpenAI-compatible endpoint, native bytes converted from what
    /// it sent.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped call loses no data (the body keeps unread bytes,
    /// the translator keeps what it converted).
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadFailure> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// [`next_chunk`](Self::next_chunk) by polling.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<Option<Bytes>, ReadFailure>> {
        let Some(translator) = self.translator.as_mut() else { return self.raw.poll_chunk(cx) };
        loop {
            if let Some(bytes) = translator.take() {
                return Poll::Ready(Ok(Some(bytes)));
            }
            if translator.is_ended() {
                return Poll::Ready(Ok(None));
            }
            let converted = match std::task::ready!(self.raw.poll_chunk(cx))? {
                Some(bytes) => translator.push(&bytes),
                None => translator.end(),
            };
            converted.map_err(ReadFailure::Translate)?;
        }
    }
}

impl Raw {
    /// The limit in force: the first byte's before any data, then the
    /// idle one from the last frame; the whole call's when sooner.
    fn limit(&self) -> Option<(Instant, TimeoutPhase)> {
        match self.last_data {
            Some(last) => {
                earliest(self.idle.map(|idle| last + idle), TimeoutPhase::Idle, self.total)
            }
            None => earliest(self.first_byte, TimeoutPhase::FirstByte, self.total),
        }
    }

    fn poll_chunk(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<Option<Bytes>, ReadFailure>> {
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(None) => return Poll::Ready(Ok(None)),
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Err(ReadFailure::Body(err))),
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers carry nothing for us; empty data frames neither.
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        if self.idle.is_some() || self.last_data.is_none() {
                            self.last_data = Some(Instant::now());
                        }
                        return Poll::Ready(Ok(Some(data)));
                    }
                }
                Poll::Pending => break,
            }
        }
        let Some((deadline, phase)) = self.limit() else { return Poll::Pending };
        loop {
            let timer = match &mut self.timer {
                // Armed later than the limit now in force: bring it forward.
                Some(timer) if timer.deadline() > deadline => {
                    timer.as_mut().reset(deadline);
                    timer
                }
                Some(timer) => timer,
                None => self.timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(Err(ReadFailure::Timeout(phase)));
            }
            // It fired for an earlier limit (data came since): wait for
            // the one in force.
            timer.as_mut().reset(deadline);
        }
    }
}

impl BodyReader {
    /// Reads the whole body, refusing more than `limit` bytes.
    pub(crate) async fn read_all(mut self, limit: usize, endpoint: &str) -> Result<Bytes, Error> {
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(chunk) =
            self.next_chunk().await.map_err(|f| f.into_error(endpoint, false))?
        {
            let len = first.as_ref().map_or(0, Bytes::len) + rest.len() + chunk.len();
            if len > limit {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("response body from {endpoint} is longer than {limit} bytes"),
                ));
            }
            // Most small bodies arrive in one frame: keep it without copying.
            match first.take() {
                None if rest.is_empty() => first = Some(chunk),
                None => rest.extend_from_slice(&chunk),
                Some(head) => {
                    rest.extend_from_slice(&head);
                    rest.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| rest.freeze()))
    }

    /// Reads up to `limit` bytes of the body and drops the rest: for error
    /// bodies, where the message is near the start and a huge or endless
    /// body must not hold the call.
    pub(crate) async fn read_prefix(mut self, limit: usize) -> Result<Bytes, ReadFailure> {
        let mut out = BytesMut::new();
        while out.len() < limit {
            match self.next_chunk().await? {
                Some(chunk) => {
                    let room = limit - out.len();
                    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                None => break,
            }
        }
        Ok(out.freeze())
    }
}
