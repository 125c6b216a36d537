//! ollama-rs — a strict client nobody here wrote — through the gateway in
//! front of two simulators: list, show, generate, chat stream, embed.

use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::generation::embeddings::request::GenerateEmbeddingsRequest;
use tokio_stream::StreamExt;

use crate::support::{Harness, fast};

fn client(h: &Harness) -> Ollama {
    Ollama::builder().host("http://127.0.0.1").port(h.addr.port()).build()
}

#[tokio::test]
async fn ollama_rs_through_the_gateway() {
    let h = Harness::start(vec![fast(), fast()]).await;
    let ollama = client(&h);

    let models = ollama.list_local_models().await.unwrap();
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), 4, "each model once: {names:?}");
    for want in ["llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(models.iter().all(|m| m.size > 0 && !m.modified_at.is_empty()));

    // ollama-rs sends the legacy `name` field to /api/show.
    let info = ollama.show_model_info("llama3.2".to_owned()).await.unwrap();
    assert!(info.template.contains("Tools"));
    assert_eq!(
        info.model_info.get("llama.context_length").and_then(serde_json::Value::as_u64),
        Some(131_072)
    );

    let once =
        ollama.generate(GenerationRequest::new("llama3.2".to_owned(), "hello")).await.unwrap();
    assert!(once.done && !once.response.is_empty());
    assert_eq!(once.model, "llama3.2");

    // ollama-rs drops generate lines split across chunks: none may be.
    let mut stream = ollama
        .generate_stream(GenerationRequest::new("llama3.2".to_owned(), "write a haiku"))
        .await
        .unwrap();
    let mut done = false;
    let mut chunks = 0;
    while let Some(batch) = stream.next().await {
        for chunk in batch.unwrap() {
            chunks += 1;
            done |= chunk.done;
        }
    }
    assert!(done && chunks > 1, "{chunks} chunks, done {done}");

    let request = ChatMessageRequest::new(
        "qwen2.5-coder:7b".to_owned(),
        vec![ChatMessage::user("refactor this function".to_owned())],
    );
    let mut stream = ollama.send_chat_messages_stream(request).await.unwrap();
    let mut content = String::new();
    let mut final_data = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        content.push_str(&chunk.message.content);
        if chunk.done {
            final_data = chunk.final_data;
        }
    }
    assert!(!content.is_empty());
    // All six metrics pass through, or ollama-rs would drop the block.
    let metrics = final_data.expect("final chunk with all six metrics");
    assert!(metrics.eval_count > 0);

    let embeddings = ollama
        .generate_embeddings(GenerateEmbeddingsRequest::new(
            "nomic-embed-text".to_owned(),
            vec!["first text", "second text"].into(),
        ))
        .await
        .unwrap();
    assert_eq!(embeddings.embeddings.len(), 2);
    assert!(embeddings.embeddings.iter().all(|v| v.len() == 768));

    let err = ollama.generate(GenerationRequest::new("nope".to_owned(), "hi")).await.unwrap_err();
    assert!(err.to_string().contains("model 'nope' not found"), "{err}");
    h.stop().await;
}
