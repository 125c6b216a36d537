//! `Fleet::forward`: native requests sent as they came, their answers as
//! the instance's own lines, with failover before the first line only and
//! the outcome recorded in the registry and the metrics.

use bytes::Bytes;
use futures_util::StreamExt;
use om_core::{EndpointId, ErrorKind, RequestId};
use om_orchestrator::{Forward, Forwarded, Operation, Options, Settings};
use om_sim::Faults;

use crate::support::{Harness, MODEL, Node, PROMPT, limit, model, settings};

fn chat(id: &str, stream: bool) -> Forward {
    let body = serde_json::json!({
        "model": "llama3.2",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
        "options": {"seed": 1},
    });
    let mut request =
        Forward::new(RequestId::new(id), Operation::Chat, "llama3.2", body.to_string());
    request.streaming = stream;
    request
}

/// Every item: the lines, then at most one error.
async fn drain(mut answer: Forwarded) -> (Vec<Bytes>, Option<om_core::Error>) {
    let mut lines = Vec::new();
    let mut error = None;
    while let Some(item) = answer.next().await {
        match item {
            Ok(line) => {
                assert!(error.is_none(), "a line after the error");
                lines.push(line);
            }
            Err(e) => error = Some(e),
        }
    }
    (lines, error)
}

fn json(line: &[u8]) -> serde_json::Value {
    serde_json::from_slice(line).expect("a JSON line")
}

fn echoed(lines: &[Bytes]) -> String {
    lines.iter().map(|l| json(l)["message"]["content"].as_str().unwrap_or("").to_owned()).collect()
}

fn outcomes(h: &Harness, endpoint: &str) -> (u64, Option<f64>) {
    let snapshot = h.registry.snapshot();
    let index = snapshot.find_instance(&EndpointId::new(endpoint), &model()).expect("instance");
    let stats = snapshot.instance(index).live.stats();
    (stats.outcomes, stats.success_rate)
}

#[tokio::test(start_paused = true)]
async fn a_streamed_chat_passes_line_by_line_and_is_recorded() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let answer = h.fleet.forward(chat("r1", true), Options::default()).await.unwrap();
    assert_eq!(answer.endpoint().as_str(), "a");
    assert_eq!(answer.model().map(ToString::to_string).as_deref(), Some(MODEL));
    assert_eq!(answer.content_type().unwrap(), "application/x-ndjson");
    let (lines, error) = drain(answer).await;
    assert!(error.is_none(), "{error:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with(b"\n") && l.iter().position(|&b| b == b'\n') == Some(l.len() - 1))
    );
    assert_eq!(echoed(&lines), PROMPT);
    let last = json(lines.last().unwrap());
    assert_eq!(last["done"], true);
    // The model is echoed as requested, not as the fleet lists it.
    assert_eq!(last["model"], "llama3.2");
    assert_eq!(outcomes(&h, "a"), (1, Some(1.0)));
    let metrics = h.fleet.metrics().snapshot();
    let instance = metrics.instance(&EndpointId::new("a"), &model()).expect("recorded");
    assert_eq!((instance.stats.requests, instance.stats.successes), (1, 1));
    assert_eq!(instance.stats.output_tokens, 12);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_non_streamed_answer_is_one_item() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let answer = h.fleet.forward(chat("r1", false), Options::default()).await.unwrap();
    assert_eq!(answer.content_type().unwrap(), "application/json; charset=utf-8");
    let (lines, error) = drain(answer).await;
    assert!(error.is_none());
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].ends_with(b"\n"));
    assert_eq!(json(&lines[0])["message"]["content"], PROMPT);
    assert_eq!(outcomes(&h, "a").0, 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn failover_happens_before_the_first_line() {
    let cases = [
        ("refused", Node::Refused),
        ("500", Node::Sim(Faults::default().with_error_rate(1.0))),
        ("503", Node::Sim(Faults::default().with_busy_rate(1.0))),
        ("hang", Node::Sim(Faults::default().with_hang_before_first_byte(true))),
        ("model missing", Node::SimWithout(MODEL)),
    ];
    for (case, node) in cases {
        let h = Harness::start(vec![node, Node::Sim(Faults::default())], settings());
        let answer = h
            .fleet
            .forward(chat("r", true), Options::default())
            .await
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(answer.endpoint().as_str(), "b", "{case}");
        let (lines, error) = drain(answer).await;
        assert!(error.is_none(), "{case}: {error:?}");
        assert_eq!(echoed(&lines), PROMPT, "{case}");
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn after_the_first_line_a_failure_ends_the_answer_and_is_recorded() {
    // An error line from upstream is passed on as the last line.
    let faults = Faults::default().with_error_line_after_tokens(2);
    let h = Harness::start(vec![Node::Sim(faults), Node::Sim(Faults::default())], settings());
    let answer = h.fleet.forward(chat("r", true), Options::default()).await.unwrap();
    assert_eq!(answer.endpoint().as_str(), "a");
    let (lines, error) = drain(answer).await;
    assert!(error.is_none(), "the error line is the error: {error:?}");
    assert_eq!(lines.len(), 3);
    assert!(json(&lines[2])["error"].is_string());
    assert_eq!(outcomes(&h, "a"), (1, Some(0.0)));
    h.stop().await;

    // A broken connection ends the stream with a partial error, no splice.
    let faults = Faults::default().with_disconnect_after_tokens(3);
    let h = Harness::start(vec![Node::Sim(faults), Node::Sim(Faults::default())], settings());
    let answer = h.fleet.forward(chat("r", true), Options::default()).await.unwrap();
    let (lines, error) = drain(answer).await;
    assert_eq!(lines.len(), 3);
    let error = error.expect("an error after the lines");
    assert_eq!(error.kind(), ErrorKind::Disconnected);
    assert!(error.is_partial());
    assert_eq!(error.endpoint(), Some("a"));
    assert_eq!(outcomes(&h, "a"), (1, Some(0.0)));
    assert_eq!(outcomes(&h, "b").0, 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_answer_cancels_and_frees_the_permit() {
    let one = Settings { adaptive_concurrency: false, max_concurrency: limit(1), ..settings() };
    let h = Harness::start(vec![Node::Sim(Faults::default())], one);
    let mut answer = h.fleet.forward(chat("r1", true), Options::default()).await.unwrap();
    assert!(answer.next().await.unwrap().is_ok());
    // One request at a time per endpoint: the second waits for the first.
    let second = h.fleet.forward(chat("r2", true), Options::default());
    tokio::pin!(second);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), &mut second).await;
    assert!(waited.is_err(), "the permit is held");
    drop(answer);
    let (lines, error) = drain(second.await.unwrap()).await;
    assert!(error.is_none());
    assert_eq!(echoed(&lines), PROMPT);
    // The cancelled attempt counts neither as a success nor as a fault.
    assert_eq!(outcomes(&h, "a"), (2, Some(1.0)));
    let tasks = h.fleet.metrics().snapshot();
    let errors: u64 = tasks.categories.iter().map(|c| c.tasks.failed).sum();
    assert_eq!(errors, 1, "the dropped request counts as a cancelled task");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn unknown_models_get_ollamas_404_and_final_errors_pass_through() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let request = Forward::new(RequestId::new("r"), Operation::Generate, "nope", "{}");
    let error = h.fleet.forward(request, Options::default()).await.unwrap_err();
    assert_eq!(
        (error.kind(), error.message()),
        (ErrorKind::ModelNotFound, "model 'nope' not found")
    );
    let request = Forward::new(RequestId::new("r"), Operation::Embed, "nope", "{}");
    let error = h.fleet.forward(request, Options::default()).await.unwrap_err();
    assert_eq!(error.message(), "model \"nope\" not found, try pulling it first");

    // A request the model's server refuses is refused once, with its words.
    let body = r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"think":true}"#;
    let mut request = Forward::new(RequestId::new("r"), Operation::Chat, "llama3.2", body);
    request.capabilities = om_core::Capabilities::of(&[om_core::Capability::Thinking]);
    let error = h.fleet.forward(request, Options::default()).await.unwrap_err();
    assert_eq!(error.http_status(), 400);
    assert_eq!(error.message(), "\"llama3.2\" does not support thinking");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn show_and_management_calls() {
    let h = Harness::start(vec![Node::Refused, Node::Sim(Faults::default())], settings());
    let request =
        Forward::new(RequestId::new("s"), Operation::Show, "llama3.2", r#"{"model":"llama3.2"}"#);
    let answer = h.fleet.forward(request, Options::default()).await.unwrap();
    assert_eq!(answer.endpoint().as_str(), "b", "show fails over too");
    let (lines, _) = drain(answer).await;
    assert!(json(&lines[0])["model_info"].is_object());

    let pull = r#"{"model":"llama3.2","stream":true}"#;
    let request = Forward::new(RequestId::new("p"), Operation::Pull, "llama3.2", pull);
    let error = h.fleet.forward(request.clone(), Options::default()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    let error = h.fleet.forward_to(&EndpointId::new("zz"), request.clone()).await.unwrap_err();
    assert_eq!(error.message(), "no endpoint named \"zz\"; the fleet has a, b");
    let answer = h.fleet.forward_to(&EndpointId::new("b"), request).await.unwrap();
    let (lines, error) = drain(answer).await;
    assert!(error.is_none());
    assert_eq!(json(lines.last().unwrap())["status"], "success");

    let delete = Forward::new(RequestId::new("d"), Operation::Delete, "x", r#"{"model":"nope"}"#);
    let error = h.fleet.forward_to(&EndpointId::new("b"), delete).await.unwrap_err();
    assert_eq!(error.http_status(), 404);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn listings_are_the_union_of_the_fleet() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default()), Node::SimWithout("qwen3:8b")],
        Settings { ..settings() },
    );
    let list = h.fleet.list_models();
    let names: Vec<&str> = list.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&MODEL));
    let answer = h.fleet.forward(chat("r", false), Options::default()).await.unwrap();
    drain(answer).await;
    let ps = h.fleet.running_models(std::time::Duration::from_secs(1)).await;
    let loaded: Vec<&str> = ps.models.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(loaded, [MODEL]);
    let status = h.fleet.status();
    assert_eq!(status["endpoints"][0]["name"], "a");
    assert_eq!(status["endpoints"][0]["health"], "up");
    // One answer, with the starting limit of 4 not in use: unchanged.
    assert_eq!(status["endpoints"][0]["capacity"], 4);
    assert_eq!(status["endpoints"][0]["max_concurrency"], 64);
    assert_eq!(status["endpoints"][0]["limit"]["learned"], 4);
    assert_eq!(status["endpoints"][0]["limit"]["reason"], "initial");
    let model = &status["endpoints"][0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == MODEL)
        .cloned()
        .unwrap();
    assert_eq!(model["breaker"], "closed");
    assert_eq!(model["success_rate"], 1.0);
    assert_eq!(status["in_flight"], 0);
    h.stop().await;
}
