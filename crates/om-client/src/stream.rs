//! The I/O half of a streaming call: feeds body frames into the sans-IO
//! [`FrameDecoder`] and hands out decoded chunks as an [`om_core::ChunkStream`].

use std::sync::Arc;

use futures_util::stream;
use serde::de::DeserializeOwned;

use om_core::wire::{ChatResponse, GenerateResponse, ProgressResponse};
use om_core::{ChunkStream, Error, ErrorKind};

use crate::body::BodyReader;
use crate::ndjson::FrameDecoder;

/// A streamed response type, and how to recognise its last chunk.
pub(crate) trait Chunk: DeserializeOwned + Send + 'static {
    /// True on the chunk that ends a complete stream.
    fn is_final(&self) -> bool;
}

impl Chunk for ChatResponse {
    fn is_final(&self) -> bool {
        self.done
    }
}

impl Chunk for GenerateResponse {
    fn is_final(&self) -> bool {
        self.done
    }
}

impl Chunk for ProgressResponse {
    /// Pull, push and create all end with `{"status":"success"}`.
    fn is_final(&self) -> bool {
        self.status == "success"
    }
}

/// Who to blame in errors.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) endpoint: Arc<str>,
    pub(crate) model: Option<String>,
}

impl Context {
    /// Attaches the endpoint and model to an error.
    pub(crate) fn annotate(&self, error: Error) -> Error {
        let error = error.with_endpoint(&*self.endpoint);
        match &self.model {
            Some(model) => error.with_model(model.clone()),
            None => error,
        }
    }
}

/// The state of one NDJSON response stream.
struct NdjsonStream<T> {
    /// `None` once the body has ended or failed.
    reader: Option<BodyReader>,
    frames: FrameDecoder<T>,
    context: Context,
    saw_final: bool,
    finished: bool,
}

/// Wraps a 2xx streaming body as a stream of decoded chunks.
///
/// The stream ends after the body ends. It ends with an error — and the
/// connection is closed — on an `{"error": …}` line ([`ErrorKind::Stream`]),
/// a line that does not decode ([`ErrorKind::Protocol`]), a broken connection
/// or a body that ends before the final chunk ([`ErrorKind::Disconnected`]),
/// or a first-byte, idle or total timeout. Every error after the first chunk
/// is marked partial.
pub(crate) fn ndjson_stream<T: Chunk>(
    reader: BodyReader,
    frames: FrameDecoder<T>,
    context: Context,
) -> ChunkStream<T> {
    let state =
        NdjsonStream { reader: Some(reader), frames, context, saw_final: false, finished: false };
    Box::pin(stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    }))
}

impl<T: Chunk> NdjsonStream<T> {
    async fn next_item(&mut self) -> Option<Result<T, Error>> {
        if self.finished {
            return None;
        }
        loop {
            match self.frames.next_frame() {
                Ok(Some(frame)) => return Some(Ok(self.yielded(frame))),
                Ok(None) => {}
                Err(error) => return Some(Err(self.fail(error))),
            }
            let Some(reader) = self.reader.as_mut() else {
                return self.end();
            };
            match reader.next_chunk().await {
                Ok(Some(bytes)) => self.frames.push(bytes),
                // The body is complete, so hyper has already returned the
                // connection to the pool; what is left is decoded by `end`.
                Ok(None) => self.reader = None,
                Err(failure) => {
                    let partial = self.frames.has_yielded();
                    let error = failure.into_error(&self.context.endpoint, partial);
                    return Some(Err(self.fail(error)));
                }
            }
        }
    }

    /// The body has ended: a last line without newline, then the check that
    /// the stream was complete.
    fn end(&mut self) -> Option<Result<T, Error>> {
        match self.frames.finish() {
            Ok(Some(frame)) => return Some(Ok(self.yielded(frame))),
            Ok(None) => {}
            Err(error) => return Some(Err(self.fail(error))),
        }
        self.finished = true;
        if self.saw_final {
            return None;
        }
        let error = Error::new(
            ErrorKind::Disconnected,
            format!("stream from {} ended before its final chunk", self.context.endpoint),
        )
        .with_partial(self.frames.has_yielded());
        Some(Err(self.context.annotate(error)))
    }

    fn yielded(&mut self, frame: T) -> T {
        self.saw_final |= frame.is_final();
        frame
    }

    /// Ends the stream with `error`, closing the connection.
    fn fail(&mut self, error: Error) -> Error {
        self.finished = true;
        self.reader = None;
        self.context.annotate(error)
    }
}
