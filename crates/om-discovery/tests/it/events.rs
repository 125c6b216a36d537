//! The discovery loop against simulated Ollama endpoints on paused time:
//! models pulled, deleted, loaded and expiring show up as events and in the
//! registry.

use std::time::Duration;

use futures_util::StreamExt;
use om_client::{Client, http_client};
use om_core::ModelName;
use om_core::wire::{DeleteRequest, GenerateRequest, KeepAlive, Options, PullRequest};
use om_discovery::Event;
use om_sim::{EndpointSpec, SimHandle};
use tokio_util::sync::CancellationToken;

use crate::support::{VirtualClock, discovery, id, settings, spec, wait_for};

const STEP: Duration = Duration::from_millis(5);

fn sim(name: &str) -> SimHandle {
    om_sim::spawn(
        EndpointSpec::default()
            .with_name(name)
            .with_load_time(Duration::from_millis(50))
            .with_ttft(Duration::from_millis(5))
            .with_tokens_per_sec(1000.0),
    )
}

fn name(text: &str) -> ModelName {
    text.parse().expect("a valid model name")
}

fn client(sim: &SimHandle) -> Client {
    Client::new(http_client(), sim.url().parse().expect("the simulator's URL"))
}

#[tokio::test(start_paused = true)]
async fn model_set_and_loaded_state_changes_become_events() {
    let _clock = VirtualClock::start(STEP);
    let (a, b) = (sim("a"), sim("b"));
    let endpoints = vec![spec("a", &a.url()), spec("b", &b.url())];
    let (discovery, registry, mut events) = discovery(endpoints, settings());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(discovery.run(shutdown.clone()));

    // The first round: both up, with the simulator's four default models.
    let mut added = 0;
    let mut up = Vec::new();
    while added < 8 || up.len() < 2 {
        match wait_for(&mut events, Duration::from_secs(5), "of the first round", |_| true).await {
            Event::EndpointUp { endpoint, version } => {
                assert_eq!(version.as_deref(), Some("0.33.0"));
                up.push(endpoint);
            }
            Event::ModelAdded { .. } => added += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    up.sort();
    assert_eq!(up, [id("a"), id("b")]);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.instances().len(), 8);
    let llama = snapshot.instance(snapshot.find_instance(&id("a"), &name("llama3.2")).unwrap());
    assert_eq!(llama.info.context_length, Some(131_072), "from /api/show's model_info");
    assert_eq!(llama.info.parameters, Some(3_200_000_000));
    assert!(llama.loaded.is_none());

    // A pull adds a model at the next full probe (10 s).
    let mut progress = client(&a)
        .pull(PullRequest { model: Some("mistral:7b".into()), ..PullRequest::default() })
        .await
        .unwrap();
    while let Some(line) = progress.next().await {
        line.unwrap();
    }
    let event = wait_for(&mut events, Duration::from_secs(11), "mistral added", |e| {
        matches!(e, Event::ModelAdded { .. })
    })
    .await;
    assert_eq!(event, Event::ModelAdded { endpoint: id("a"), model: name("mistral:7b") });

    // A delete removes one.
    let delete = DeleteRequest { model: Some("qwen3:8b".into()), name: None };
    client(&b).delete(&delete).await.unwrap();
    let event = wait_for(&mut events, Duration::from_secs(11), "qwen3 removed", |e| {
        matches!(e, Event::ModelRemoved { .. })
    })
    .await;
    assert_eq!(event, Event::ModelRemoved { endpoint: id("b"), model: name("qwen3:8b") });
    let snapshot = registry.snapshot();
    assert!(snapshot.find_instance(&id("b"), &name("qwen3:8b")).is_none());
    assert!(snapshot.find_instance(&id("a"), &name("mistral:7b")).is_some());

    // A generation with a 3 s keep-alive loads the model (seen by the next
    // /api/ps, within 1 s), and it unloads 3 s after the generation ends.
    let request = GenerateRequest {
        keep_alive: Some(KeepAlive::Text("3s".into())),
        options: Some(Options::default().with("num_predict", 3)),
        ..GenerateRequest::new("llama3.2", "hello")
    };
    client(&b).generate_once(request).await.unwrap();
    let event = wait_for(&mut events, Duration::from_secs(2), "llama loaded", |e| {
        matches!(e, Event::ModelLoaded { .. })
    })
    .await;
    assert_eq!(event, Event::ModelLoaded { endpoint: id("b"), model: name("llama3.2") });
    let snapshot = registry.snapshot();
    let loaded = snapshot.instance(snapshot.find_instance(&id("b"), &name("llama3.2")).unwrap());
    let state = loaded.loaded.expect("loaded in the registry");
    assert!(state.expires_at.is_some(), "with its expiry from /api/ps");
    let event = wait_for(&mut events, Duration::from_secs(5), "llama unloaded", |e| {
        matches!(e, Event::ModelUnloaded { .. })
    })
    .await;
    assert_eq!(event, Event::ModelUnloaded { endpoint: id("b"), model: name("llama3.2") });

    shutdown.cancel();
    task.await.unwrap();
    a.stop().await;
    b.stop().await;
}
