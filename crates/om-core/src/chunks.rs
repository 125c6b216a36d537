//! [`ChunkStream`]: the decoded chunks of one answer, as the client yields
//! them and the orchestrator reads them.

use std::pin::Pin;

use futures_core::Stream;

use crate::error::Result;

/// A stream of decoded response chunks. A non-streaming request yields one
/// item; a streaming one yields chunks until the `done: true` chunk or an
/// error. An error item ends the stream.
pub type ChunkStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;
