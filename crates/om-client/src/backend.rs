//! [`om_core::Backend`] for [`Client`]: the seam the orchestrator calls.

use futures_util::stream;

use om_core::wire::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse,
};
use om_core::{Backend, ChunkStream, Result};

use crate::client::Client;

/// Unlike the inherent [`Client::chat`] and [`Client::generate`], which
/// always stream, the trait methods honour the request's `stream` field
/// (absent means streaming, as in Ollama): a non-streaming request is sent
/// with `stream: false` and its one response is yielded as a one-item stream.
///
/// # Cancel safety
///
/// As for [`Client`]: dropping a future or stream closes the connection.
impl Backend for Client {
    async fn generate(&self, request: GenerateRequest) -> Result<ChunkStream<GenerateResponse>> {
        if request.is_stream() {
            Client::generate(self, request).await
        } else {
            let response = self.generate_once(request).await?;
            Ok(Box::pin(stream::iter([Ok(response)])))
        }
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChunkStream<ChatResponse>> {
        if request.is_stream() {
            Client::chat(self, request).await
        } else {
            let response = self.chat_once(request).await?;
            Ok(Box::pin(stream::iter([Ok(response)])))
        }
    }

    async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse> {
        Client::embed(self, &request).await
    }
}
