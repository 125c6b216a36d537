//! Live state: estimates, cold loads, cooldowns, in-flight guards, the
//! breaker as requests drive it, affinity.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use om_core::{Error, ErrorKind, TaskCategory};
use om_registry::{
    BreakerConfig, BreakerState, Config, Health, LimitConfig, LimitReason, Outcome, Registry,
    Transition,
};
use tokio::time::{Instant, advance, sleep};

use crate::support::{id, instance, model, spec, two_endpoints};

fn warm(latency_ms: u64) -> Outcome {
    Outcome::success()
        .with_latency(Duration::from_millis(latency_ms))
        .with_ttft(Duration::from_millis(latency_ms / 4))
        .with_load_duration(Duration::from_millis(2))
}

fn fault() -> Outcome {
    Outcome::failure(&Error::from_status(500, "boom"))
}

#[tokio::test(start_paused = true)]
async fn one_cold_load_does_not_move_the_latency_estimate() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let live = &snapshot.instance(instance(&snapshot, "a", "llama3.2")).live;
    for _ in 0..10 {
        live.record(&warm(1000), Instant::now());
    }
    let before = live.stats();
    assert_eq!(before.latency, Some(Duration::from_secs(1)));

    // The model was unloaded and this request paid a 5 s load.
    let cold = Outcome::success()
        .with_latency(Duration::from_secs(6))
        .with_ttft(Duration::from_millis(5200))
        .with_load_duration(Duration::from_secs(5));
    let recorded = live.record(&cold, Instant::now());
    assert!(recorded.cold_load);

    let after = live.stats();
    assert_eq!(after.latency, before.latency);
    assert_eq!(after.ttft, before.ttft);
    assert_eq!(after.cold_loads, 1);
    assert_eq!(after.outcomes, 11);
    assert_eq!(after.success_rate, Some(1.0), "a cold load is still a success");
    // The published view agrees.
    let view = live.view(snapshot.ticks(Instant::now()));
    assert_eq!(view.latency, Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn warm_outcomes_move_the_estimates_and_faults_the_success_rate() {
    let registry = two_endpoints(Config { success_window: 4, ..Config::default() });
    let snapshot = registry.snapshot();
    let live = &snapshot.instance(instance(&snapshot, "a", "llama3.2")).live;
    live.record(&warm(1000), Instant::now());
    live.record(&warm(2000).with_category(TaskCategory::Coding), Instant::now());
    let stats = live.stats();
    assert_eq!(stats.latency, Some(Duration::from_millis(1250)), "alpha 0.25");
    live.record(&fault(), Instant::now());
    live.record(&fault(), Instant::now());
    assert_eq!(live.stats().success_rate, Some(0.5));
    // The window holds four: two more faults push both successes out.
    live.record(&fault(), Instant::now());
    live.record(&fault(), Instant::now());
    assert_eq!(live.stats().success_rate, Some(0.0));
    // A fault's latency is not a latency estimate.
    assert_eq!(live.stats().latency, Some(Duration::from_millis(1250)));
}

#[tokio::test(start_paused = true)]
async fn busy_cools_down_honouring_retry_after_and_does_not_trip() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let live = &snapshot.instance(instance(&snapshot, "a", "llama3.2")).live;
    let busy = Error::from_status(503, "server busy").with_retry_after(Duration::from_secs(7));
    for _ in 0..20 {
        let recorded = live.record(&Outcome::failure(&busy), Instant::now());
        assert_eq!(recorded.transition, None);
    }
    let ticks = |s: &om_registry::Snapshot| s.ticks(Instant::now());
    let view = live.view(ticks(&snapshot));
    assert!(view.cooling_down);
    assert!(view.admits, "backpressure is not a breaker trip");
    assert_eq!(live.stats().breaker, BreakerState::Closed);
    assert_eq!(live.stats().success_rate, None, "busy is neither success nor fault");
    advance(Duration::from_millis(6999)).await;
    assert!(live.view(ticks(&snapshot)).cooling_down);
    advance(Duration::from_millis(1)).await;
    assert!(!live.view(ticks(&snapshot)).cooling_down);

    // Without Retry-After the default applies; a huge one is capped.
    live.record(&Outcome::failure(&Error::from_status(429, "slow down")), Instant::now());
    assert_eq!(live.stats().cooldown_until, Some(Instant::now() + Duration::from_secs(2)));
    let huge = Error::from_status(503, "busy").with_retry_after(Duration::from_hours(1));
    live.record(&Outcome::failure(&huge), Instant::now());
    assert_eq!(live.stats().cooldown_until, Some(Instant::now() + Duration::from_mins(1)));
}

#[tokio::test(start_paused = true)]
async fn in_flight_guards_count_on_the_instance_and_the_endpoint() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let b = snapshot.find_endpoint(&id("b")).unwrap();
    let llama = snapshot.instance(instance(&snapshot, "b", "llama3.2"));
    let qwen = snapshot.instance(instance(&snapshot, "b", "qwen2.5-coder:7b"));
    let first = llama.begin(Instant::now()).unwrap();
    let second = llama.begin(Instant::now()).unwrap();
    let third = qwen.begin(Instant::now()).unwrap();
    assert!(!first.is_probe());
    assert_eq!(llama.live.in_flight(), 2);
    assert_eq!(snapshot.endpoint(b).live.in_flight(), 3);
    first.finish(&warm(500), Instant::now());
    drop(second); // cancelled: nothing recorded
    assert_eq!(llama.live.in_flight(), 0);
    assert_eq!(llama.live.stats().outcomes, 1);
    drop(third);
    assert_eq!(snapshot.endpoint(b).live.in_flight(), 0);
    // A later snapshot shares the same counters.
    let _guard = llama.begin(Instant::now()).unwrap();
    registry.set_loaded(&id("b"), vec![crate::support::loaded("llama3.2")]).unwrap();
    let later = registry.snapshot();
    assert_eq!(later.instance(instance(&later, "b", "llama3.2")).live.in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn faults_open_the_breaker_and_probes_close_it() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let inst = snapshot.instance(instance(&snapshot, "a", "llama3.2"));
    let mut last = None;
    for _ in 0..5 {
        last = inst.begin(Instant::now()).unwrap().finish(&fault(), Instant::now()).transition;
    }
    let opened_at = Instant::now();
    assert_eq!(
        last,
        Some(Transition::Opened { until: opened_at + Duration::from_secs(30), trips: 1 })
    );
    assert!(!inst.live.view(snapshot.ticks(Instant::now())).admits);
    let rejected = inst.begin(Instant::now()).unwrap_err();
    assert_eq!(rejected.retry_at, Some(opened_at + Duration::from_secs(30)));
    assert_eq!(rejected.to_string(), "circuit breaker of llama3.2:latest on a is open");

    sleep(Duration::from_secs(30)).await;
    assert!(inst.live.view(snapshot.ticks(Instant::now())).admits, "time is up");
    for _ in 0..2 {
        let probe = inst.begin(Instant::now()).unwrap();
        assert!(probe.is_probe());
        assert_eq!(probe.finish(&warm(300), Instant::now()).transition, None);
    }
    let probe = inst.begin(Instant::now()).unwrap();
    assert_eq!(probe.finish(&warm(300), Instant::now()).transition, Some(Transition::Closed));
    assert!(!inst.begin(Instant::now()).unwrap().is_probe());
}

/// Half-open admits two probes at a time however many tasks race for them;
/// a probe that is cancelled frees its slot.
#[tokio::test(start_paused = true)]
async fn half_open_probe_limit_holds_under_racing_tasks() {
    let breaker = BreakerConfig { close_after: 4, ..BreakerConfig::default() };
    let registry = two_endpoints(Config { breaker, ..Config::default() });
    let snapshot = registry.snapshot();
    let index = instance(&snapshot, "a", "llama3.2");
    for _ in 0..5 {
        snapshot.instance(index).live.record(&fault(), Instant::now());
    }
    sleep(Duration::from_secs(30)).await;

    // Twenty tasks try to start a request at the same moment; each admitted
    // request takes a second, and a refused task tries again 100 ms later.
    let mut tasks = tokio::task::JoinSet::new();
    let probes = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let admitted_as_probe = Arc::new(AtomicU32::new(0));
    for task in 0..20_u32 {
        let snapshot = Arc::clone(&snapshot);
        let (probes, peak, admitted_as_probe) =
            (Arc::clone(&probes), Arc::clone(&peak), Arc::clone(&admitted_as_probe));
        tasks.spawn(async move {
            let inst = snapshot.instance(index);
            loop {
                match inst.begin(Instant::now()) {
                    Ok(guard) => {
                        let probe = guard.is_probe();
                        if probe {
                            admitted_as_probe.fetch_add(1, Ordering::Relaxed);
                            let running = probes.fetch_add(1, Ordering::Relaxed) + 1;
                            peak.fetch_max(running, Ordering::Relaxed);
                        } else {
                            assert_eq!(inst.live.stats().breaker, BreakerState::Closed);
                        }
                        sleep(Duration::from_secs(1)).await;
                        if probe {
                            probes.fetch_sub(1, Ordering::Relaxed);
                        }
                        if task == 0 {
                            drop(guard); // cancelled: frees the slot, proves nothing
                        } else {
                            guard.finish(&warm(300), Instant::now());
                        }
                        return;
                    }
                    Err(rejected) => {
                        assert_eq!(rejected.retry_at, None, "half-open: no known time");
                        sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    assert_eq!(peak.load(Ordering::Relaxed), 2, "never more than two probes at a time");
    // Probes go out in pairs: (cancelled, success), (success, success),
    // (success, success) — the fourth success closes the breaker while its
    // partner is still running. The cancelled probe counted for nothing.
    assert_eq!(admitted_as_probe.load(Ordering::Relaxed), 6);
    assert_eq!(snapshot.instance(index).live.stats().breaker, BreakerState::Closed);
}

/// The same limit with real threads racing on the lock.
#[tokio::test(start_paused = true)]
async fn half_open_probe_limit_holds_across_threads() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let index = instance(&snapshot, "a", "llama3.2");
    for _ in 0..5 {
        snapshot.instance(index).live.record(&fault(), Instant::now());
    }
    advance(Duration::from_secs(30)).await;
    let now = Instant::now();
    let barrier = Arc::new(Barrier::new(8));
    let admitted: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                let snapshot = &snapshot;
                scope.spawn(move || {
                    barrier.wait();
                    snapshot.instance(index).begin(now).ok()
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(admitted.len(), 2);
    assert!(admitted.iter().all(om_registry::InFlight::is_probe));
    assert!(!snapshot.instance(index).live.view(snapshot.ticks(now)).admits);
    drop(admitted);
    assert!(snapshot.instance(index).live.view(snapshot.ticks(now)).admits, "slots freed");
}

#[tokio::test(start_paused = true)]
async fn neutral_outcomes_touch_neither_breaker_nor_success_rate() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let live = &snapshot.instance(instance(&snapshot, "a", "llama3.2")).live;
    for kind in [ErrorKind::Canceled, ErrorKind::InvalidRequest] {
        for _ in 0..10 {
            live.record(&Outcome::failure(&Error::new(kind, "x")), Instant::now());
        }
    }
    let stats = live.stats();
    assert_eq!(stats.breaker, BreakerState::Closed);
    assert_eq!(stats.success_rate, None);
}

#[tokio::test(start_paused = true)]
async fn affinity_is_learnt_per_model_and_category_across_endpoints() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let on_a = snapshot.instance(instance(&snapshot, "a", "llama3.2"));
    let on_b = snapshot.instance(instance(&snapshot, "b", "llama3.2"));
    on_a.live.record(&warm(100).with_category(TaskCategory::Coding), Instant::now());
    on_b.live.record(&fault().with_category(TaskCategory::Coding), Instant::now());
    on_b.live
        .record(&warm(100).with_category(TaskCategory::Testing).with_quality(0.25), Instant::now());
    // Connection trouble says nothing about the model.
    let refused = Outcome::failure(&Error::new(ErrorKind::Connect, "refused"));
    on_b.live.record(&refused.with_category(TaskCategory::Coding), Instant::now());

    let model = snapshot.model(on_a.model);
    let coding = model.live.affinity(TaskCategory::Coding);
    assert_eq!(coding.trials, 2);
    assert_eq!(coding.mean(), Some(0.5));
    assert_eq!(model.live.affinity(TaskCategory::Testing).mean(), Some(0.25));
    assert_eq!(model.live.affinity(TaskCategory::General).mean(), None);
    assert_eq!(snapshot.category_trials(TaskCategory::Coding), 2);

    // It survives the model leaving and coming back.
    registry.replace_models(&id("a"), vec![]).unwrap();
    registry.replace_models(&id("b"), vec![]).unwrap();
    registry.replace_models(&id("a"), vec![crate::support::model("llama3.2", "llama")]).unwrap();
    let later = registry.snapshot();
    let again = later.find_model(&crate::support::name("llama3.2")).unwrap();
    assert_eq!(later.model(again).live.affinity(TaskCategory::Coding).trials, 2);
}

#[tokio::test(start_paused = true)]
async fn a_recent_success_counts_as_warm_for_the_warm_window() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let live = &snapshot.instance(instance(&snapshot, "a", "llama3.2")).live;
    assert!(!live.view(snapshot.ticks(Instant::now())).recently_used);
    live.record(&warm(100), Instant::now());
    advance(Duration::from_mins(5)).await;
    assert!(live.view(snapshot.ticks(Instant::now())).recently_used);
    advance(Duration::from_millis(1)).await;
    assert!(!live.view(snapshot.ticks(Instant::now())).recently_used);
    let _ = Registry::clone(&registry);
}

/// A registry with one endpoint `a` whose limit adapts from 2 up to 8.
fn adaptive() -> Registry {
    let registry = Registry::new(Config::default());
    let mut edit = registry.edit();
    let mut a = spec("a");
    a.max_concurrency = std::num::NonZeroU32::new(8);
    a.adaptive = Some(LimitConfig {
        initial: std::num::NonZeroU32::new(2).expect("non-zero"),
        ..LimitConfig::default()
    });
    edit.upsert_endpoint(a).expect("valid spec");
    edit.set_health(&id("a"), Health::Healthy).expect("known endpoint");
    edit.replace_models(&id("a"), vec![model("llama3.2", "llama")]).expect("known endpoint");
    edit.publish();
    registry
}

/// A successful answer with Ollama's metrics: `tokens` generated at
/// `rate` tokens/s, after waiting `slot_wait_ms` for a parallel slot.
fn answered(tokens: u64, rate: f64, slot_wait_ms: u64) -> Outcome {
    let eval = (tokens as f64 / rate * 1e9) as u64;
    let metrics = om_core::wire::Metrics {
        total_duration: Some(1_000_000 + 5_000_000 + eval + slot_wait_ms * 1_000_000),
        load_duration: Some(1_000_000),
        prompt_eval_count: Some(10),
        prompt_eval_duration: Some(5_000_000),
        eval_count: Some(tokens),
        eval_duration: Some(eval),
    };
    Outcome::success().with_metrics(&metrics)
}

#[tokio::test(start_paused = true)]
async fn the_learned_limit_follows_the_answers_and_is_the_capacity_in_force() {
    let registry = adaptive();
    let snapshot = registry.snapshot();
    let index = instance(&snapshot, "a", "llama3.2");
    let endpoint = &snapshot.endpoints()[0];
    let facts = snapshot.facts(index);
    assert_eq!((endpoint.capacity(), facts.capacity_now()), (2, 2));
    let live = &snapshot.instance(index).live;
    // Two at once, both as fast as ever: raised, without a new snapshot.
    let guards: Vec<_> = (0..2).map(|_| live.begin(Instant::now()).expect("admitted")).collect();
    live.record(&answered(100, 50.0, 0), Instant::now());
    assert_eq!(facts.capacity_now(), 3);
    assert_eq!(endpoint.live.learned_limit(), Some((3, LimitReason::Raised)));
    // An answer that waited for a slot: one less.
    live.record(&answered(100, 50.0, 1_000), Instant::now());
    assert_eq!(endpoint.live.learned_limit(), Some((2, LimitReason::Queued)));
    // 503 busy: halved, never below one.
    let busy = Error::from_status(503, "server busy");
    live.record(&Outcome::failure(&busy), Instant::now());
    assert_eq!(endpoint.live.learned_limit(), Some((1, LimitReason::Busy)));
    drop(guards);
    // The configured limit stays the ceiling; the snapshot's copy is the
    // limit when it was made.
    assert_eq!(endpoint.max_concurrency.map(std::num::NonZeroU32::get), Some(8));
    assert_eq!(facts.capacity, 2);
}

/// Why the learned limit last changed after two answers at these speeds
/// (tokens per second), two requests in flight.
fn reason_after(first_rate: f64, then_rate: f64) -> Option<LimitReason> {
    let registry = adaptive();
    let snapshot = registry.snapshot();
    let index = instance(&snapshot, "a", "llama3.2");
    let live = &snapshot.instance(index).live;
    let _guards: Vec<_> = (0..2).map(|_| live.begin(Instant::now()).expect("admitted")).collect();
    live.record(&answered(100, first_rate, 0), Instant::now());
    live.record(&answered(100, then_rate, 0), Instant::now());
    snapshot.endpoints()[0].live.learned_limit().map(|(_, why)| why)
}

#[tokio::test(start_paused = true)]
async fn only_a_slowdown_of_milliseconds_per_token_cuts_the_limit() {
    // A model that makes a token in 10 µs, then "ten times slower" at
    // 100 µs: noise on the way, not the box, so the limit still grows.
    assert_eq!(reason_after(100_000.0, 10_000.0), Some(LimitReason::Raised));
    // A real model at 20 ms a token, then 200 ms: cut.
    assert_eq!(reason_after(50.0, 5.0), Some(LimitReason::Slower));
}
