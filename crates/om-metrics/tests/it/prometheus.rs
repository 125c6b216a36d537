//! The Prometheus exposition, parsed by an independent parser
//! (`prometheus-parse`): every family, type, help text, sample, label and
//! value must round-trip, and histograms must be well formed.

use std::collections::{BTreeMap, BTreeSet};

use om_core::{ErrorKind, TaskCategory, TaskId, TimeoutPhase};
use om_metrics::prometheus as names;
use om_metrics::{
    BreakerState, BreakerTransition, Distribution, Metrics, Outcome, RequestRecord, Snapshot,
    TaskRecord, TaskStart,
};
use prometheus_parse::{LineInfo, SampleType, Scrape, Value};

use crate::support::{endpoint, model, ms};

/// Every family, its type and whether it is a histogram.
const FAMILIES: [(&str, SampleType); 13] = [
    (names::REQUESTS_TOTAL, SampleType::Counter),
    (names::ERRORS_TOTAL, SampleType::Counter),
    (names::REQUEST_DURATION_SECONDS, SampleType::Histogram),
    (names::TIME_TO_FIRST_TOKEN_SECONDS, SampleType::Histogram),
    (names::TOKENS_PER_SECOND, SampleType::Histogram),
    (names::OUTPUT_TOKENS_TOTAL, SampleType::Counter),
    (names::IN_FLIGHT, SampleType::Gauge),
    (names::QUEUE_DEPTH, SampleType::Gauge),
    (names::ENDPOINT_CONCURRENCY_LIMIT, SampleType::Gauge),
    (names::BREAKER_TRANSITIONS_TOTAL, SampleType::Counter),
    (names::TASKS_STARTED_TOTAL, SampleType::Counter),
    (names::TASKS_FINISHED_TOTAL, SampleType::Counter),
    (names::TASK_DURATION_SECONDS, SampleType::Histogram),
];

/// A fleet with a bit of everything: two endpoints, three models (one with a
/// namespace and host), successes and failures in several categories,
/// in-flight requests, a queue, breaker changes and tasks.
fn busy_metrics() -> (Metrics, Vec<om_metrics::InFlight>) {
    let metrics = Metrics::new();
    let (gpu, laptop) = (endpoint("gpu-box"), endpoint("laptop.local:11434"));
    let coder = model("qwen2.5-coder:7b");
    let llama = model("llama3.2");
    let hf = model("hf.co/someone/repo:Q4_K_M");
    for i in 0..40_u64 {
        let (e, m) = match i % 4 {
            0 | 1 => (&gpu, &coder),
            2 => (&laptop, &llama),
            _ => (&laptop, &hf),
        };
        let category = TaskCategory::ALL[(i % 3) as usize];
        let outcome = match i % 9 {
            0 => Outcome::Err(ErrorKind::Busy),
            4 => Outcome::Err(ErrorKind::Timeout(TimeoutPhase::FirstByte)),
            _ => Outcome::Ok,
        };
        let mut record = RequestRecord::new(e, m, outcome, ms(20 + i * 97));
        if i % 5 != 0 {
            record = record.with_category(category);
        }
        if outcome.is_ok() {
            record = record.with_ttft(ms(5 + i * 11)).with_tokens(30 + i, 12.5 + i as f64 * 3.0);
        }
        metrics.record_request(record);
    }
    let guards = vec![metrics.start_request(&gpu, &coder), metrics.start_request(&gpu, &coder)];
    metrics.set_queue_depth(12);
    metrics.set_endpoint_limit(&gpu, 8);
    metrics.set_endpoint_limit(&gpu, 6);
    metrics.record_breaker_transition(BreakerTransition {
        endpoint: laptop.clone(),
        model: hf.clone(),
        from: BreakerState::Closed,
        to: BreakerState::Open,
    });
    metrics.record_breaker_transition(BreakerTransition {
        endpoint: laptop.clone(),
        model: hf.clone(),
        from: BreakerState::Open,
        to: BreakerState::HalfOpen,
    });
    for (id, category, outcome, secs) in [
        ("t1", Some(TaskCategory::Coding), Outcome::Ok, 3),
        ("t2", Some(TaskCategory::Coding), Outcome::Err(ErrorKind::NoBackend), 0),
        ("t3", None, Outcome::Ok, 40),
    ] {
        metrics.task_started(TaskStart { task: TaskId::new(id), category });
        metrics.record_task(TaskRecord {
            task: TaskId::new(id),
            category,
            endpoint: None,
            model: None,
            outcome,
            duration: std::time::Duration::from_secs(secs),
            attempts: 1,
        });
    }
    metrics
        .task_started(TaskStart { task: TaskId::new("t4"), category: Some(TaskCategory::Testing) });
    (metrics, guards)
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("in-memory lines")
}

/// A parsed or expected sample, comparable: name, sorted labels, value text.
type Key = (String, BTreeMap<String, String>);

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// What the exposition must contain for `snapshot`, derived independently
/// of the renderer: scalar samples by (name, labels) and histograms by
/// (name, labels) as (bucket bounds and counts, sum, count).
#[derive(Debug, Default)]
struct Expected {
    scalars: BTreeMap<Key, (SampleType, f64)>,
    histograms: BTreeMap<Key, ExpectedHistogram>,
}

/// One histogram series: `(le, cumulative count)` ending with `+Inf`, sum
/// and count.
#[derive(Debug)]
struct ExpectedHistogram {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Expected {
    fn scalar(&mut self, name: &str, pairs: &[(&str, &str)], kind: SampleType, value: u64) {
        self.scalars.insert((name.to_owned(), labels(pairs)), (kind, value as f64));
    }

    fn histogram(&mut self, name: &str, pairs: &[(&str, &str)], d: &Distribution) {
        let mut buckets: Vec<(f64, f64)> =
            d.buckets.iter().map(|b| (b.le, b.count as f64)).collect();
        buckets.push((f64::INFINITY, d.count as f64));
        let histogram = ExpectedHistogram { buckets, sum: d.sum, count: d.count as f64 };
        self.histograms.insert((name.to_owned(), labels(pairs)), histogram);
    }

    fn of(snapshot: &Snapshot) -> Self {
        let mut expected = Self::default();
        let category_name = |c: Option<TaskCategory>| c.map_or("none", TaskCategory::as_str);
        for instance in &snapshot.instances {
            let model = instance.model.to_string();
            let base = [("endpoint", instance.endpoint.as_str()), ("model", model.as_str())];
            for counts in &instance.by_category {
                for (outcome, value) in [("ok", counts.successes), ("error", counts.failures)] {
                    if value > 0 {
                        let pairs = [
                            base[0],
                            base[1],
                            ("category", category_name(counts.category)),
                            ("outcome", outcome),
                        ];
                        expected.scalar(names::REQUESTS_TOTAL, &pairs, SampleType::Counter, value);
                    }
                }
            }
            for (kind, &value) in &instance.stats.errors {
                let pairs = [base[0], base[1], ("kind", kind.as_str())];
                expected.scalar(names::ERRORS_TOTAL, &pairs, SampleType::Counter, value);
            }
            expected.histogram(
                names::REQUEST_DURATION_SECONDS,
                &base,
                &instance.stats.latency_seconds,
            );
            expected.histogram(
                names::TIME_TO_FIRST_TOKEN_SECONDS,
                &base,
                &instance.stats.ttft_seconds,
            );
            expected.histogram(names::TOKENS_PER_SECOND, &base, &instance.stats.tokens_per_second);
            if instance.stats.output_tokens > 0 {
                expected.scalar(
                    names::OUTPUT_TOKENS_TOTAL,
                    &base,
                    SampleType::Counter,
                    instance.stats.output_tokens,
                );
            }
            expected.scalar(names::IN_FLIGHT, &base, SampleType::Gauge, instance.stats.in_flight);
            for state in BreakerState::ALL {
                let value = instance.breaker_transitions.to(state);
                if value > 0 {
                    let pairs = [base[0], base[1], ("to", state.as_str())];
                    expected.scalar(
                        names::BREAKER_TRANSITIONS_TOTAL,
                        &pairs,
                        SampleType::Counter,
                        value,
                    );
                }
            }
        }
        expected.scalar(names::QUEUE_DEPTH, &[], SampleType::Gauge, snapshot.queue_depth);
        for limit in &snapshot.endpoint_limits {
            let pairs = [("endpoint", limit.endpoint.as_str())];
            let value = u64::from(limit.limit);
            expected.scalar(names::ENDPOINT_CONCURRENCY_LIMIT, &pairs, SampleType::Gauge, value);
        }
        for category in &snapshot.categories {
            let name = category_name(category.category);
            if category.tasks.started > 0 {
                expected.scalar(
                    names::TASKS_STARTED_TOTAL,
                    &[("category", name)],
                    SampleType::Counter,
                    category.tasks.started,
                );
            }
            for (outcome, value) in
                [("ok", category.tasks.succeeded), ("error", category.tasks.failed)]
            {
                if value > 0 {
                    expected.scalar(
                        names::TASKS_FINISHED_TOTAL,
                        &[("category", name), ("outcome", outcome)],
                        SampleType::Counter,
                        value,
                    );
                }
            }
            if category.tasks.duration_seconds.count > 0 {
                expected.histogram(
                    names::TASK_DURATION_SECONDS,
                    &[("category", name)],
                    &category.tasks.duration_seconds,
                );
            }
        }
        expected
    }
}

#[test]
fn every_sample_round_trips_through_a_real_parser() {
    let (metrics, _guards) = busy_metrics();
    let snapshot = metrics.snapshot();
    let text = snapshot.to_prometheus();
    assert_eq!(text, metrics.to_prometheus(), "nothing changed in between");
    let scrape = parse(&text);
    let mut expected = Expected::of(&snapshot);

    // The parser files a histogram's `_sum` and `_count` as untyped samples
    // of their own; collect them to check against the histogram.
    let mut sums_and_counts: BTreeMap<Key, f64> = BTreeMap::new();
    let mut histograms_seen = 0;
    for sample in &scrape.samples {
        let key: Key = (
            sample.metric.clone(),
            sample.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        match &sample.value {
            Value::Counter(v) | Value::Gauge(v) => {
                let kind = if matches!(sample.value, Value::Counter(_)) {
                    SampleType::Counter
                } else {
                    SampleType::Gauge
                };
                let want = expected
                    .scalars
                    .remove(&key)
                    .unwrap_or_else(|| panic!("unexpected sample {key:?}"));
                assert_eq!(want, (kind, *v), "{key:?}");
            }
            Value::Histogram(buckets) => {
                let want = expected
                    .histograms
                    .get(&key)
                    .unwrap_or_else(|| panic!("unexpected histogram {key:?}"));
                let got: Vec<(f64, f64)> = buckets.iter().map(|b| (b.less_than, b.count)).collect();
                assert_eq!(got, want.buckets, "{key:?}");
                histograms_seen += 1;
            }
            Value::Untyped(v) => {
                sums_and_counts.insert(key, *v);
            }
            Value::Summary(_) => panic!("no summaries are exported: {key:?}"),
        }
    }
    assert!(expected.scalars.is_empty(), "missing samples: {:?}", expected.scalars.keys());
    assert_eq!(histograms_seen, expected.histograms.len(), "every histogram series once");
    for ((name, pairs), histogram) in &expected.histograms {
        let got_sum = sums_and_counts.remove(&(format!("{name}_sum"), pairs.clone()));
        let got_count = sums_and_counts.remove(&(format!("{name}_count"), pairs.clone()));
        assert_eq!(got_sum, Some(histogram.sum), "{name}_sum {pairs:?}");
        assert_eq!(got_count, Some(histogram.count), "{name}_count {pairs:?}");
    }
    assert!(sums_and_counts.is_empty(), "stray untyped samples: {sums_and_counts:?}");

    // Some values straight from what was recorded, not via the snapshot.
    let in_flight = scrape
        .samples
        .iter()
        .find(|s| s.metric == names::IN_FLIGHT && s.labels.get("endpoint") == Some("gpu-box"))
        .expect("in-flight gauge of gpu-box");
    assert_eq!(in_flight.value, Value::Gauge(2.0));
    assert_eq!(in_flight.labels.get("model"), Some("qwen2.5-coder:7b"));
    let queue =
        scrape.samples.iter().find(|s| s.metric == names::QUEUE_DEPTH).expect("queue depth");
    assert_eq!(queue.value, Value::Gauge(12.0));
    assert!(queue.labels.is_empty());
    let total: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == names::REQUESTS_TOTAL)
        .map(|s| match s.value {
            Value::Counter(v) => v,
            _ => panic!("requests_total is a counter"),
        })
        .sum();
    assert_eq!(total, 40.0);
}

#[test]
fn families_have_help_and_type_before_their_samples() {
    let (metrics, _guards) = busy_metrics();
    let text = metrics.to_prometheus();
    assert!(text.ends_with('\n'));
    let scrape = parse(&text);
    for (name, _) in FAMILIES {
        let help = scrape.docs.get(name).unwrap_or_else(|| panic!("no HELP for {name}"));
        assert!(help.ends_with('.'), "{name}: {help}");
    }
    assert_eq!(scrape.docs.len(), FAMILIES.len());

    // Walk the lines: each family gets HELP then TYPE exactly once, and every
    // sample belongs to the family announced last.
    let mut declared: BTreeMap<String, SampleType> = BTreeMap::new();
    let mut current: Option<(String, SampleType)> = None;
    for line in text.lines() {
        match LineInfo::parse(line) {
            LineInfo::Doc { metric_name, .. } => {
                assert!(!declared.contains_key(metric_name), "{metric_name} declared twice");
            }
            LineInfo::Type { metric_name, metric_alias, sample_type } => {
                let family = metric_alias.unwrap_or(metric_name);
                assert!(
                    declared.insert(family.clone(), sample_type).is_none(),
                    "{family} typed twice"
                );
                current = Some((family, sample_type));
            }
            LineInfo::Sample { metric_name, labels, .. } => {
                let (family, kind) = current.as_ref().expect("a sample after a TYPE line");
                let allowed: BTreeSet<String> = if *kind == SampleType::Histogram {
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .map(|suffix| format!("{family}{suffix}"))
                        .collect()
                } else {
                    BTreeSet::from([family.clone()])
                };
                assert!(allowed.contains(metric_name), "{metric_name} under {family}");
                if metric_name.ends_with("_bucket") {
                    assert!(labels.is_some_and(|l| l.contains("le=\"")), "{line}");
                }
            }
            LineInfo::Empty | LineInfo::Ignored => panic!("unexpected line {line:?}"),
        }
    }
    let want: BTreeMap<String, SampleType> =
        FAMILIES.iter().map(|&(name, kind)| (name.to_owned(), kind)).collect();
    assert_eq!(declared, want);
    for name in declared.keys() {
        assert!(name.starts_with("ollama_meta_"), "{name}");
    }
}

#[test]
fn histograms_are_cumulative_and_end_with_inf() {
    let (metrics, _guards) = busy_metrics();
    let scrape = parse(&metrics.to_prometheus());
    let mut seen = 0;
    for sample in &scrape.samples {
        if let Value::Histogram(buckets) = &sample.value {
            seen += 1;
            assert!(
                buckets.windows(2).all(|w| w[0].less_than < w[1].less_than),
                "{}",
                sample.metric
            );
            assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "{}", sample.metric);
            let last = buckets.last().expect("at least +Inf");
            assert!(last.less_than.is_infinite());
            let count = scrape
                .samples
                .iter()
                .find(|s| {
                    s.metric == format!("{}_count", sample.metric) && s.labels == sample.labels
                })
                .expect("a _count per series");
            assert_eq!(count.value, Value::Untyped(last.count), "{}", sample.metric);
        }
    }
    // 3 histograms × 3 instances + task durations of 2 categories.
    assert_eq!(seen, 11);
}

#[test]
fn labels_are_only_the_allowed_ones() {
    let (metrics, _guards) = busy_metrics();
    let scrape = parse(&metrics.to_prometheus());
    let allowed = BTreeSet::from(["endpoint", "model", "category", "outcome", "kind", "to"]);
    let task_ids = ["t1", "t2", "t3", "t4"];
    for sample in &scrape.samples {
        for (key, value) in sample.labels.iter() {
            assert!(allowed.contains(key.as_str()), "{}: label {key}", sample.metric);
            assert!(!task_ids.contains(&value.as_str()), "{}: task id as a label", sample.metric);
        }
    }
}

#[test]
fn endpoint_limits_are_one_gauge_per_endpoint_with_the_last_value() {
    let (metrics, _guards) = busy_metrics();
    let text = metrics.to_prometheus();
    let limits: Vec<&str> =
        text.lines().filter(|l| l.starts_with(names::ENDPOINT_CONCURRENCY_LIMIT)).collect();
    assert_eq!(limits, ["ollama_meta_endpoint_concurrency_limit{endpoint=\"gpu-box\"} 6"]);
}

#[test]
fn label_values_are_escaped() {
    let metrics = Metrics::new();
    let odd = endpoint("lab \"A\"\\gpu\nrack 2");
    metrics.record_request(RequestRecord::new(&odd, &model("llama3.2"), Outcome::Ok, ms(1)));
    let text = metrics.to_prometheus();
    let line = "ollama_meta_in_flight{endpoint=\"lab \\\"A\\\"\\\\gpu\\nrack 2\",model=\"llama3.2:latest\"} 0";
    assert!(text.lines().any(|l| l == line), "{text}");
    // Escaping keeps one sample per line.
    assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("ollama_meta_")), "{text}");
}

#[test]
fn empty_metrics_still_declare_every_family() {
    let text = Metrics::new().to_prometheus();
    let scrape = parse(&text);
    assert_eq!(scrape.docs.len(), FAMILIES.len());
    assert_eq!(scrape.samples.len(), 1, "only the queue depth: {text}");
    assert_eq!(scrape.samples[0].value, Value::Gauge(0.0));
}
