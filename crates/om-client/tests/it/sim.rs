//! om-client against the real simulator: every call, Ollama's error texts
//! and every injected fault, on paused time (the simulator runs on the same
//! virtual clock in the same runtime).

use std::time::Duration;

use futures_util::StreamExt;
use om_client::{Client, Timeouts};
use om_core::wire::{
    ChatRequest, CopyRequest, CreateRequest, DeleteRequest, EmbedInput, EmbedRequest,
    EmbeddingsRequest, GenerateRequest, Message, Options, PullRequest, Role, ShowRequest, Think,
};
use om_core::{ErrorKind, TimeoutPhase};
use om_sim::{EndpointSpec, Faults, SimHandle};
use tokio::time::Instant;

use crate::support::{VirtualClock, client, collect, retries};

const STEP: Duration = Duration::from_millis(5);
const BUSY: &str = "server busy, please try again.  maximum pending requests exceeded";

fn fast() -> EndpointSpec {
    EndpointSpec::default()
        .with_load_time(Duration::from_millis(50))
        .with_ttft(Duration::from_millis(10))
        .with_tokens_per_sec(1000.0)
}

fn start(spec: EndpointSpec) -> (SimHandle, Client) {
    let sim = om_sim::spawn(spec);
    let client = client(sim.url().parse().expect("sim URL")).with_timeouts(Timeouts {
        connect: Some(Duration::from_secs(5)),
        first_byte: Some(Duration::from_secs(30)),
        idle: Some(Duration::from_secs(5)),
        total: None,
    });
    (sim, client)
}

async fn stop(sim: SimHandle, client: Client) {
    drop(client);
    sim.stop().await;
}

fn chat(model: &str, tokens: i64) -> ChatRequest {
    ChatRequest {
        options: Some(Options::default().with("num_predict", tokens)),
        ..ChatRequest::new(model, vec![Message::new(Role::User, "Why is the sky blue?")])
    }
}

#[tokio::test(start_paused = true)]
async fn every_call_against_the_simulator() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) = start(fast());

    client.heartbeat().await.unwrap();
    assert_eq!(client.version().await.unwrap().version, "0.33.0");
    let tags = client.list().await.unwrap();
    let names: Vec<_> = tags.models.iter().map(|m| m.name.as_str()).collect();
    for model in ["llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"] {
        assert!(names.contains(&model), "{names:?}");
    }
    assert!(client.ps().await.unwrap().models.is_empty());
    let show = client.show(&ShowRequest::new("llama3.2")).await.unwrap();
    assert_eq!(show.context_length(), Some(131_072));

    // Streaming chat: tokens, then done with metrics; the model is loaded.
    let chunks: Vec<_> = collect(client.chat(chat("llama3.2", 5)).await.unwrap())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let last = chunks.last().unwrap();
    assert!(last.done);
    assert_eq!(last.done_reason.as_deref(), Some("length"));
    assert_eq!(last.metrics.eval_count, Some(5));
    assert!(chunks[..chunks.len() - 1].iter().all(|c| !c.done && c.model == "llama3.2"));
    let ps = client.ps().await.unwrap();
    assert_eq!(ps.models[0].name, "llama3.2:latest");

    let once = client.chat_once(chat("llama3.2", 4)).await.unwrap();
    assert!(once.done && !once.message.content.is_empty());

    // Thinking model: the trace streams in `thinking`.
    let mut think = chat("qwen3:8b", 8);
    think.think = Some(Think::Enabled(true));
    let chunks = collect(client.chat(think).await.unwrap()).await;
    assert!(chunks.iter().any(|c| c.as_ref().unwrap().message.thinking.is_some()));

    let mut generate = GenerateRequest::new("qwen2.5-coder:7b", "fn main() {");
    generate.options = Some(Options::default().with("num_predict", 3));
    let chunks = collect(client.generate(generate.clone()).await.unwrap()).await;
    assert!(chunks.last().unwrap().as_ref().unwrap().done);
    assert!(client.generate_once(generate).await.unwrap().done);

    let embed = client
        .embed(&EmbedRequest {
            model: "nomic-embed-text".to_owned(),
            input: Some(EmbedInput::Many(vec!["a".to_owned(), "b".to_owned()])),
            ..EmbedRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(embed.embeddings.len(), 2);
    let norm: f32 = embed.embeddings[0].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");
    let legacy = client
        .embeddings(&EmbeddingsRequest {
            model: "nomic-embed-text".to_owned(),
            prompt: "a".to_owned(),
            ..EmbeddingsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(legacy.embedding.len(), 768);

    // Management: pull a new name, copy it, create from it, delete both.
    let pull = PullRequest { model: Some("tinyllama".to_owned()), ..PullRequest::default() };
    let progress = collect(client.pull(pull).await.unwrap()).await;
    assert_eq!(progress.last().unwrap().as_ref().unwrap().status, "success");
    let copy = CopyRequest { source: "tinyllama".to_owned(), destination: "tiny-copy".to_owned() };
    client.copy(&copy).await.unwrap();
    let create = CreateRequest {
        model: "tiny-mario".to_owned(),
        from: Some("tiny-copy".to_owned()),
        system: Some("You are Mario.".to_owned()),
        ..CreateRequest::default()
    };
    let progress = collect(client.create(create).await.unwrap()).await;
    assert_eq!(progress.last().unwrap().as_ref().unwrap().status, "success");
    let push = PullRequest { model: Some("tiny-mario".to_owned()), ..PullRequest::default() };
    let progress = collect(client.push(push).await.unwrap()).await;
    assert!(progress.iter().all(Result::is_ok), "{progress:?}");
    for model in ["tiny-copy", "tiny-mario"] {
        client.delete(&DeleteRequest { model: Some(model.to_owned()), name: None }).await.unwrap();
    }
    let names: Vec<_> = client.list().await.unwrap().models.into_iter().map(|m| m.name).collect();
    assert!(names.contains(&"tinyllama:latest".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("tiny-")), "{names:?}");

    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn ollamas_error_texts_come_through() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) = start(fast());

    let err = client.show(&ShowRequest::new("nope")).await.unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::ModelNotFound, "model 'nope' not found"));
    let err = client.chat(chat("nope", 1)).await.err().unwrap();
    assert_eq!((err.message(), err.http_status()), ("model 'nope' not found", 404));
    assert_eq!(err.model(), Some("nope"));
    let embed = EmbedRequest { model: "nope".to_owned(), ..EmbedRequest::default() };
    let err = client.embed(&embed).await.unwrap_err();
    assert_eq!(err.message(), "model \"nope\" not found, try pulling it first");
    let copy = CopyRequest { source: "nope".to_owned(), destination: "x".to_owned() };
    let err = client.copy(&copy).await.unwrap_err();
    assert_eq!((err.message(), err.http_status()), ("model \"nope\" not found", 404));
    let delete = DeleteRequest { model: Some("nope".to_owned()), name: None };
    assert_eq!(client.delete(&delete).await.unwrap_err().message(), "model 'nope' not found");
    let err = client.chat_once(ChatRequest::new("", vec![])).await.unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::InvalidRequest, "model is required"));

    let mut think = chat("llama3.2", 1);
    think.think = Some(Think::Enabled(true));
    let err = client.chat_once(think).await.unwrap_err();
    assert_eq!(err.message(), "\"llama3.2\" does not support thinking");
    assert_eq!(err.http_status(), 400);
    let mut top = chat("llama3.2", 1);
    top.top_logprobs = Some(21);
    let err = client.chat_once(top).await.unwrap_err();
    assert_eq!(err.message(), "top_logprobs must be between 0 and 20");

    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn error_rate_is_an_upstream_500() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) = start(fast().with_faults(Faults::default().with_error_rate(1.0)));
    let client = client.with_retry(retries(3, Duration::from_secs(1)));
    let err = client.chat_once(chat("llama3.2", 3)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream { status: 500 });
    assert_eq!(err.message(), "simulated failure");
    assert!(err.is_retryable(), "for the orchestrator");
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn busy_is_retried_until_it_clears() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) = start(fast().with_faults(Faults::default().with_busy_rate(1.0)));

    // Without retries the busy answer surfaces as is.
    let err = client.chat_once(chat("llama3.2", 3)).await.unwrap_err();
    assert_eq!((err.kind(), err.message(), err.http_status()), (ErrorKind::Busy, BUSY, 503));

    // With retries, the call succeeds once the endpoint stops being busy.
    let client = client.with_retry(retries(6, Duration::from_secs(2)));
    let control = sim.control().clone();
    let clear = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        control.clear_faults();
    });
    let start = Instant::now();
    let chunks = collect(client.chat(chat("llama3.2", 3)).await.unwrap()).await;
    assert!(chunks.iter().all(Result::is_ok));
    // Attempts at 0, 100 and 300 ms: the third one finds the faults cleared.
    assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
    clear.await.unwrap();
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn hang_before_first_byte_times_out() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) =
        start(fast().with_faults(Faults::default().with_hang_before_first_byte(true)));
    let limits = Timeouts { first_byte: Some(Duration::from_secs(2)), ..client.timeouts() };
    let client = client.with_timeouts(limits);
    let err = client.chat(chat("llama3.2", 3)).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::FirstByte));
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn stall_after_tokens_is_an_idle_timeout() {
    let _clock = VirtualClock::start(STEP);
    let faults = Faults::default().with_stall_after_tokens(3, Duration::from_mins(1));
    let (sim, client) = start(fast().with_faults(faults));
    let limits = Timeouts { idle: Some(Duration::from_secs(2)), ..client.timeouts() };
    let client = client.with_timeouts(limits);
    let items = collect(client.chat(chat("llama3.2", 20)).await.unwrap()).await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::Idle));
    assert!(err.is_partial());
    assert_eq!(items.len(), 4, "three tokens, then the timeout");
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn disconnect_after_tokens_is_disconnected_and_partial() {
    let _clock = VirtualClock::start(STEP);
    // Tokens 10 ms apart: each is flushed before the next. (At 1000 tokens/s
    // on paused time, several tokens and the drop land in one poll of the
    // simulator's connection, and hyper drops the unflushed lines with it.)
    let spec = fast().with_tokens_per_sec(100.0);
    let (sim, client) = start(spec.with_faults(Faults::default().with_disconnect_after_tokens(3)));
    let items = collect(client.chat(chat("llama3.2", 20)).await.unwrap()).await;
    assert_eq!(items.len(), 4);
    let err = items[3].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.is_partial());
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn malformed_line_is_a_protocol_error() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) =
        start(fast().with_faults(Faults::default().with_malformed_line_after_tokens(2)));
    let items = collect(client.chat(chat("llama3.2", 20)).await.unwrap()).await;
    assert_eq!(items.len(), 3);
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.is_partial());
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn error_line_mid_stream_is_a_stream_error() {
    let _clock = VirtualClock::start(STEP);
    let (sim, client) =
        start(fast().with_faults(Faults::default().with_error_line_after_tokens(2)));
    let items = collect(client.chat(chat("llama3.2", 20)).await.unwrap()).await;
    assert_eq!(items.len(), 3);
    let err = items[2].as_ref().unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Stream, "simulated failure"));
    assert!(err.is_partial());

    // Before the first line the same failure is a plain 500.
    sim.control().replace_faults(Faults::default().with_error_line_after_tokens(0));
    let err = client.chat(chat("llama3.2", 20)).await.err().unwrap();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::Upstream { status: 500 }, "simulated failure")
    );
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn slow_load_delays_the_first_byte() {
    let _clock = VirtualClock::start(STEP);
    let faults = Faults::default().with_slow_load(Duration::from_secs(5));
    let (sim, client) = start(fast().with_faults(faults));
    let tight = client
        .clone()
        .with_timeouts(Timeouts { first_byte: Some(Duration::from_secs(2)), ..client.timeouts() });
    let err = tight.chat_once(chat("llama3.2", 2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout(TimeoutPhase::FirstByte));
    drop(tight);
    let start = Instant::now();
    let chunks = collect(client.chat(chat("qwen3:8b", 2)).await.unwrap()).await;
    assert!(chunks.iter().all(Result::is_ok));
    assert!(start.elapsed() >= Duration::from_secs(5), "{:?}", start.elapsed());
    stop(sim, client).await;
}

#[tokio::test(start_paused = true)]
async fn flapping_fails_while_down_and_recovers() {
    let _clock = VirtualClock::start(STEP);
    let faults = Faults::default().with_flapping(Duration::from_secs(1), Duration::from_secs(10));
    let (sim, client) = start(fast().with_faults(faults));
    let err = client.version().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Disconnected | ErrorKind::Connect),
        "{:?}: {}",
        err.kind(),
        err.message()
    );
    assert!(err.is_retryable());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(client.version().await.unwrap().version, "0.33.0");
    let mut stream = client.chat(chat("llama3.2", 3)).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    stop(sim, client).await;
}
