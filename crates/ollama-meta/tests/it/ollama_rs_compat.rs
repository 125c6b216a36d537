//! `ollama-rs` — a client nobody here wrote — against `om-sim`.
//!
//! ollama-rs is strict where Ollama is loose (`OLLAMA_API.md` §9.3): chat
//! metrics are all-or-nothing, generate streams drop lines split across
//! chunks, and it sends the legacy `name` field to `/api/show`. Passing here
//! means the simulator's framing and fields are what real clients expect.

use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::generation::embeddings::request::GenerateEmbeddingsRequest;
use om_sim::EndpointSpec;
use tokio_stream::StreamExt;

fn fast_spec() -> EndpointSpec {
    EndpointSpec::default()
        .with_tokens_per_sec(5_000.0)
        .with_ttft(std::time::Duration::from_millis(1))
        .with_load_time(std::time::Duration::from_millis(5))
}

fn client(sim: &om_sim::SimHandle) -> Ollama {
    Ollama::builder().host("http://127.0.0.1").port(sim.addr().port()).build()
}

#[tokio::test]
async fn list_and_show() {
    let sim = om_sim::spawn(fast_spec());
    let ollama = client(&sim);
    let models = ollama.list_local_models().await.unwrap();
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    for want in ["llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(models.iter().all(|m| m.size > 0 && !m.modified_at.is_empty()));
    let info = ollama.show_model_info("llama3.2".to_owned()).await.unwrap();
    assert!(info.template.contains("Tools"), "template: {}", info.template);
    assert_eq!(
        info.model_info.get("llama.context_length").and_then(serde_json::Value::as_u64),
        Some(131_072)
    );
    sim.stop().await;
}

#[tokio::test]
async fn generate_whole_and_streamed() {
    let sim = om_sim::spawn(fast_spec());
    let ollama = client(&sim);
    let once =
        ollama.generate(GenerationRequest::new("llama3.2".to_owned(), "hello")).await.unwrap();
    assert!(once.done);
    assert!(!once.response.is_empty());
    assert_eq!(once.model, "llama3.2");
    assert!(once.eval_count.unwrap_or(0) > 0);

    let mut stream = ollama
        .generate_stream(GenerationRequest::new("llama3.2".to_owned(), "write a haiku"))
        .await
        .unwrap();
    let mut text = String::new();
    let mut done = false;
    let mut chunks = 0;
    while let Some(batch) = stream.next().await {
        for chunk in batch.unwrap() {
            chunks += 1;
            text.push_str(&chunk.response);
            done |= chunk.done;
        }
    }
    assert!(done, "no done chunk in {chunks} chunks");
    assert!(chunks > 1 && !text.is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn chat_stream_has_final_metrics() {
    let sim = om_sim::spawn(fast_spec());
    let ollama = client(&sim);
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
    // ollama-rs drops the whole block unless all six metrics are present.
    let metrics = final_data.expect("final chunk carries all six metrics");
    assert!(metrics.eval_count > 0 && metrics.prompt_eval_count > 0);
    assert!(metrics.total_duration >= metrics.load_duration + metrics.eval_duration);

    let whole = ollama
        .send_chat_messages(ChatMessageRequest::new(
            "llama3.2".to_owned(),
            vec![ChatMessage::user("hi".to_owned())],
        ))
        .await
        .unwrap();
    assert!(whole.done && !whole.message.content.is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn embed_unit_vectors() {
    let sim = om_sim::spawn(fast_spec());
    let ollama = client(&sim);
    let response = ollama
        .generate_embeddings(GenerateEmbeddingsRequest::new(
            "nomic-embed-text".to_owned(),
            vec!["first text", "second text"].into(),
        ))
        .await
        .unwrap();
    assert_eq!(response.embeddings.len(), 2);
    for v in &response.embeddings {
        assert_eq!(v.len(), 768);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    }
    assert_ne!(response.embeddings[0], response.embeddings[1]);
    sim.stop().await;
}

#[tokio::test]
async fn unknown_model_is_an_error() {
    let sim = om_sim::spawn(fast_spec());
    let ollama = client(&sim);
    let err = ollama.generate(GenerationRequest::new("nope".to_owned(), "hi")).await.unwrap_err();
    assert!(err.to_string().contains("model 'nope' not found"), "{err}");
    sim.stop().await;
}
