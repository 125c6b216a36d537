//! The `Backend` seam: what the orchestrator needs from one Ollama endpoint.
//!
//! We chose a small bespoke trait over `tower::Service` (STYLE.md §2.1 allows
//! either): the calls the orchestrator makes are few and typed (generate,
//! chat, embed), every one of them yields a stream of decoded chunks, and
//! per-endpoint policy (permits, breakers, EWMA) is owned by the registry and
//! the orchestrator rather than stacked as layers. A plain trait keeps the
//! signatures readable and lets tests drive the orchestrator with an
//! in-memory backend. `om-client`'s HTTP client implements it.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;

use crate::error::Result;
use crate::wire::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse,
};

/// A stream of decoded response chunks. A non-streaming request yields one
/// item; a streaming one yields chunks until the `done: true` chunk or an
/// error. An error item ends the stream.
pub type ChunkStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;

/// One Ollama endpoint, as the request path sees it.
///
/// # Cancel safety
///
/// Dropping a returned future or stream cancels the request: an HTTP
/// implementation closes the connection, which is how Ollama is told to stop
/// generating.
pub trait Backend: Send + Sync {
    /// `POST /api/generate`.
    fn generate(
        &self,
        request: GenerateRequest,
    ) -> impl Future<Output = Result<ChunkStream<GenerateResponse>>> + Send;

    /// `POST /api/chat`.
    fn chat(
        &self,
        request: ChatRequest,
    ) -> impl Future<Output = Result<ChunkStream<ChatResponse>>> + Send;

    /// `POST /api/embed`.
    fn embed(&self, request: EmbedRequest) -> impl Future<Output = Result<EmbedResponse>> + Send;
}
