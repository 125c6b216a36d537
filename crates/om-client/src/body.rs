//! Reading a response body frame by frame under the first-byte, idle and
//! total limits.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use om_core::{Error, ErrorKind, TimeoutPhase};

use crate::errors;
use crate::openai::Translator;
use crate::timeouts::{deadline_after, earliest, run_until};

/// A response body plus the clocks that bound reading it.
///
/// # Cancel safety
///
/// Dropping it drops the hyper body; a body that was not read to its end
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
    body: Incoming,
    /// Until the first data bytes.
    first_byte: Option<Instant>,
    /// The longest gap between data frames after the first.
    idle: Option<Duration>,
    /// The whole call.
    total: Option<Instant>,
    got_bytes: bool,
}

/// Why a body could not be read further.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// A limit ran out.
    Timeout(TimeoutPhase),
    /// The connection broke.
    Body(hyper::Error),
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
        body: Incoming,
        first_byte: Option<Instant>,
        idle: Option<Duration>,
        total: Option<Instant>,
    ) -> Self {
        Self { raw: Raw { body, first_byte, idle, total, got_bytes: false }, translator: None }
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
    /// Cancel safe: a dropped call loses no data (hyper keeps unread frames,
    /// the translator keeps what it converted).
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadFailure> {
        let Some(translator) = self.translator.as_mut() else { return self.raw.next_chunk().await };
        loop {
            if let Some(bytes) = translator.take() {
                return Ok(Some(bytes));
            }
            if translator.is_ended() {
                return Ok(None);
            }
            match self.raw.next_chunk().await? {
                Some(bytes) => translator.push(&bytes).map_err(ReadFailure::Translate)?,
                None => translator.end().map_err(ReadFailure::Translate)?,
            }
        }
    }
}

impl Raw {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadFailure> {
        loop {
            let limit = if self.got_bytes {
                earliest(deadline_after(self.idle), TimeoutPhase::Idle, self.total)
            } else {
                earliest(self.first_byte, TimeoutPhase::FirstByte, self.total)
            };
            let frame = run_until(limit, self.body.frame()).await.map_err(ReadFailure::Timeout)?;
            match frame {
                None => return Ok(None),
                Some(Err(err)) => return Err(ReadFailure::Body(err)),
                Some(Ok(frame)) => {
                    // Trailers carry nothing for us; empty data frames neither.
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.got_bytes = true;
                        return Ok(Some(data));
                    }
                }
            }
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
