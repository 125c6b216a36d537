//! Recording and the numbers a snapshot reports: per instance, per model, per
//! category, gauges, breaker transitions and the JSON document.

use om_core::{ErrorKind, TaskCategory, TaskId, TimeoutPhase};
use om_metrics::{
    BreakerState, BreakerTransition, Metrics, Outcome, RequestRecord, TaskRecord, TaskStart,
};
use serde_json::json;

use crate::support::{assert_quantile, endpoint, model, ms};

#[test]
fn instance_counts_errors_and_quantiles() {
    let metrics = Metrics::new();
    let (gpu, coder) = (endpoint("gpu"), model("qwen2.5-coder:7b"));
    // 100 requests with latencies 1..=100 ms; every tenth fails (5 busy, 5
    // idle timeouts); the successes have TTFT and token rates.
    for i in 1..=100_u64 {
        let latency = ms(i);
        let record = if i % 10 == 0 {
            let kind =
                if i % 20 == 0 { ErrorKind::Busy } else { ErrorKind::Timeout(TimeoutPhase::Idle) };
            RequestRecord::new(&gpu, &coder, Outcome::Err(kind), latency)
        } else {
            RequestRecord::new(&gpu, &coder, Outcome::Ok, latency)
                .with_ttft(ms(i / 2))
                .with_tokens(10, i as f64)
        };
        metrics.record_request(record);
    }

    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.instances.len(), 1);
    let stats = &snapshot.instance(&gpu, &coder).expect("recorded").stats;
    assert_eq!((stats.requests, stats.successes, stats.failures), (100, 90, 10));
    assert_eq!(stats.errors.len(), 2);
    assert_eq!((stats.errors["busy"], stats.errors["timeout"]), (5, 5));
    assert_eq!(stats.success_rate(), Some(0.9));
    assert_eq!(stats.output_tokens, 900);
    assert_eq!(stats.in_flight, 0);

    let latency = &stats.latency_seconds;
    assert_eq!(latency.count, 100);
    assert!((latency.sum - 5.05).abs() < 1e-9, "{}", latency.sum);
    assert!((latency.mean.expect("non-empty") - 0.0505).abs() < 1e-9);
    assert_quantile(latency.p50, 0.050);
    assert_quantile(latency.p95, 0.095);
    assert_quantile(latency.p99, 0.099);
    assert_eq!(latency.max, Some(0.1));
    let bucket = |le: f64| latency.buckets.iter().find(|b| b.le == le).map(|b| b.count);
    assert_eq!(bucket(0.01), Some(10), "1..=10 ms, 10 ms inclusive");
    assert_eq!(bucket(0.05), Some(50));
    assert_eq!(bucket(0.1), Some(100));

    // TTFT and token rates only for the 90 successes.
    assert_eq!(stats.ttft_seconds.count, 90);
    assert_eq!(stats.tokens_per_second.count, 90);
    let mut rates: Vec<f64> = (1..=100).filter(|i| i % 10 != 0).map(f64::from).collect();
    rates.sort_by(f64::total_cmp);
    assert_quantile(stats.tokens_per_second.p50, rates[44]);
    assert_eq!(stats.tokens_per_second.max, Some(99.0));
}

#[test]
fn models_sum_their_instances() {
    let metrics = Metrics::new();
    let coder = model("qwen2.5-coder:7b");
    let llama = model("llama3.2");
    let (a, b) = (endpoint("a"), endpoint("b"));
    for _ in 0..3 {
        metrics.record_request(RequestRecord::new(&a, &coder, Outcome::Ok, ms(100)));
    }
    metrics
        .record_request(RequestRecord::new(&b, &coder, Outcome::Ok, ms(300)).with_tokens(50, 25.0));
    metrics.record_request(RequestRecord::new(&b, &coder, Outcome::Err(ErrorKind::Connect), ms(2)));
    metrics.record_request(RequestRecord::new(&b, &llama, Outcome::Ok, ms(40)));
    let _running = metrics.start_request(&a, &coder);

    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.instances.len(), 3);
    let names: Vec<(&str, String)> =
        snapshot.instances.iter().map(|i| (i.endpoint.as_str(), i.model.to_string())).collect();
    assert_eq!(
        names,
        [
            ("a", "qwen2.5-coder:7b".to_owned()),
            ("b", "llama3.2:latest".to_owned()),
            ("b", "qwen2.5-coder:7b".to_owned())
        ],
        "sorted by endpoint, then model"
    );

    assert_eq!(snapshot.models.len(), 2);
    let sum = snapshot.model(&coder).expect("recorded");
    assert_eq!(sum.endpoints, 2);
    assert_eq!((sum.stats.requests, sum.stats.successes, sum.stats.failures), (5, 4, 1));
    assert_eq!(sum.stats.errors["connect"], 1);
    assert_eq!(sum.stats.output_tokens, 50);
    assert_eq!(sum.stats.in_flight, 1);
    assert_eq!(sum.stats.latency_seconds.count, 5);
    assert_quantile(sum.stats.latency_seconds.p50, 0.1);
    assert_eq!(sum.stats.latency_seconds.max, Some(0.3));
    assert_eq!(sum.stats.tokens_per_second.count, 1);
    let llama_sum = snapshot.model(&llama).expect("recorded");
    assert_eq!((llama_sum.endpoints, llama_sum.stats.requests), (1, 1));
}

#[test]
fn spellings_of_one_model_are_one_instance() {
    let metrics = Metrics::new();
    let gpu = endpoint("gpu");
    for spelling in ["Llama3.2", "llama3.2:latest", "registry.ollama.ai/library/llama3.2:latest"] {
        metrics.record_request(RequestRecord::new(&gpu, &model(spelling), Outcome::Ok, ms(5)));
    }
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.instances.len(), 1);
    assert_eq!(snapshot.instances[0].stats.requests, 3);
    // The display form of the first spelling, whatever was typed.
    assert_eq!(snapshot.instances[0].model.as_requested(), "Llama3.2:latest");
}

#[test]
fn categories_count_requests_and_tasks() {
    let metrics = Metrics::new();
    let (gpu, coder) = (endpoint("gpu"), model("qwen2.5-coder:7b"));
    let request = |category: Option<TaskCategory>, outcome| {
        let mut record = RequestRecord::new(&gpu, &coder, outcome, ms(200));
        record.category = category;
        metrics.record_request(record);
    };
    request(Some(TaskCategory::Testing), Outcome::Err(ErrorKind::Busy));
    request(Some(TaskCategory::Testing), Outcome::Ok);
    request(Some(TaskCategory::Coding), Outcome::Ok);
    request(None, Outcome::Ok);

    for (id, category) in [("t1", TaskCategory::Testing), ("t2", TaskCategory::Testing)] {
        metrics.task_started(TaskStart { task: TaskId::new(id), category: Some(category) });
    }
    metrics.record_task(TaskRecord {
        task: TaskId::new("t1"),
        category: Some(TaskCategory::Testing),
        endpoint: Some(gpu.clone()),
        model: Some(coder.clone()),
        outcome: Outcome::Ok,
        duration: ms(2500),
        attempts: 2,
    });

    let snapshot = metrics.snapshot();
    let order: Vec<Option<TaskCategory>> = snapshot.categories.iter().map(|c| c.category).collect();
    assert_eq!(
        order,
        [Some(TaskCategory::Coding), Some(TaskCategory::Testing), None],
        "declaration order, uncategorised last, idle categories left out"
    );
    let testing = snapshot.category(Some(TaskCategory::Testing)).expect("recorded");
    assert_eq!((testing.requests, testing.successes, testing.failures), (2, 1, 1));
    assert_eq!(testing.latency_seconds.count, 2);
    assert_eq!((testing.tasks.started, testing.tasks.succeeded, testing.tasks.failed), (2, 1, 0));
    assert_eq!(testing.tasks.in_progress(), 1);
    assert_eq!(testing.tasks.success_rate(), Some(1.0));
    assert_eq!(testing.tasks.duration_seconds.count, 1);
    assert_eq!(testing.tasks.duration_seconds.max, Some(2.5));
    assert_eq!(snapshot.category(None).expect("recorded").requests, 1);

    // The instance keeps the per-category split for the requests counter.
    let instance = snapshot.instance(&gpu, &coder).expect("recorded");
    let split: Vec<_> =
        instance.by_category.iter().map(|c| (c.category, c.successes, c.failures)).collect();
    assert_eq!(
        split,
        [(Some(TaskCategory::Coding), 1, 0), (Some(TaskCategory::Testing), 1, 1), (None, 1, 0)]
    );
}

#[test]
fn failed_tasks_count_by_kind() {
    let metrics = Metrics::new();
    metrics.record_task(TaskRecord {
        task: TaskId::new("t"),
        category: None,
        endpoint: None,
        model: None,
        outcome: Outcome::Err(ErrorKind::NoBackend),
        duration: ms(1),
        attempts: 0,
    });
    let snapshot = metrics.snapshot();
    let tasks = &snapshot.category(None).expect("recorded").tasks;
    assert_eq!((tasks.succeeded, tasks.failed), (0, 1));
    assert_eq!(tasks.errors["no_backend"], 1);
    assert_eq!(tasks.success_rate(), Some(0.0));
}

#[test]
fn in_flight_guards_count_until_dropped() {
    let metrics = Metrics::new();
    let (gpu, coder) = (endpoint("gpu"), model("qwen2.5-coder:7b"));
    let guards: Vec<_> = (0..3).map(|_| metrics.start_request(&gpu, &coder)).collect();
    let clone = metrics.clone();
    let snapshot = clone.snapshot();
    let instance = snapshot.instance(&gpu, &coder).expect("known from the guard alone");
    assert_eq!((instance.stats.in_flight, instance.stats.requests), (3, 0));
    assert_eq!(snapshot.model(&coder).expect("known").stats.in_flight, 3);
    drop(guards);
    assert_eq!(metrics.snapshot().instances[0].stats.in_flight, 0);
}

#[test]
fn queue_depth_and_breaker_transitions() {
    let metrics = Metrics::new();
    metrics.set_queue_depth(7);
    let (gpu, coder) = (endpoint("gpu"), model("qwen2.5-coder:7b"));
    let transitions = [
        (BreakerState::Closed, BreakerState::Open),
        (BreakerState::Open, BreakerState::HalfOpen),
        (BreakerState::HalfOpen, BreakerState::Open),
        (BreakerState::Open, BreakerState::HalfOpen),
        (BreakerState::HalfOpen, BreakerState::Closed),
    ];
    for (from, to) in transitions {
        metrics.record_breaker_transition(BreakerTransition {
            endpoint: gpu.clone(),
            model: coder.clone(),
            from,
            to,
        });
    }
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.queue_depth, 7);
    let instance = snapshot.instance(&gpu, &coder).expect("known from its breaker");
    assert_eq!(instance.breaker, Some(BreakerState::Closed));
    let counts = instance.breaker_transitions;
    assert_eq!((counts.closed, counts.open, counts.half_open), (1, 2, 2));
    metrics.set_queue_depth(0);
    assert_eq!(metrics.snapshot().queue_depth, 0);
}

#[test]
fn empty_metrics_snapshot() {
    let snapshot = Metrics::default().snapshot();
    assert_eq!(
        serde_json::to_value(&snapshot).unwrap(),
        json!({
            "queue_depth": 0,
            "instances": [],
            "models": [],
            "categories": [],
            "endpoint_limits": []
        })
    );
}

#[test]
fn json_document_shape() {
    let metrics = Metrics::new();
    let (gpu, coder) = (endpoint("gpu"), model("qwen2.5-coder:7b"));
    metrics.record_request(
        RequestRecord::new(&gpu, &coder, Outcome::Ok, ms(250))
            .with_category(TaskCategory::Coding)
            .with_tokens(64, 32.0),
    );
    let value = serde_json::to_value(metrics.snapshot()).unwrap();
    let instance = &value["instances"][0];
    assert_eq!(instance["endpoint"], "gpu");
    assert_eq!(instance["model"], "qwen2.5-coder:7b");
    assert_eq!(instance["requests"], 1);
    assert_eq!(instance["successes"], 1);
    assert_eq!(instance["failures"], 0);
    assert_eq!(instance["errors"], json!({}));
    assert_eq!(instance["in_flight"], 0);
    assert_eq!(instance["output_tokens"], 64);
    assert_eq!(instance["latency_seconds"]["count"], 1);
    assert_eq!(instance["latency_seconds"]["max"], 0.25);
    assert!(instance["latency_seconds"]["p99"].as_f64().is_some());
    assert_eq!(instance["latency_seconds"]["buckets"][0], json!({"le": 0.01, "count": 0}));
    // No TTFT was recorded: count 0 and null statistics, not zeros.
    assert_eq!(instance["ttft_seconds"]["count"], 0);
    assert_eq!(instance["ttft_seconds"]["p50"], json!(null));
    assert_eq!(instance["tokens_per_second"]["max"], 32.0);
    assert_eq!(
        instance["by_category"],
        json!([{"category": "coding", "successes": 1, "failures": 0}])
    );
    assert_eq!(instance["breaker"], json!(null));
    assert_eq!(instance["breaker_transitions"], json!({"closed": 0, "open": 0, "half_open": 0}));
    assert_eq!(value["models"][0]["model"], "qwen2.5-coder:7b");
    assert_eq!(value["models"][0]["endpoints"], 1);
    assert_eq!(value["models"][0]["requests"], 1);
    let category = &value["categories"][0];
    assert_eq!(category["category"], "coding");
    assert_eq!(category["requests"], 1);
    assert_eq!(category["tasks"]["started"], 0);
    assert_eq!(category["tasks"]["duration_seconds"]["count"], 0);
}
