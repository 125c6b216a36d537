//! Strategies: round-robin fairness, weights, the loaded-model preference,
//! load, performance, seeded randomness, per-category and custom strategies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use om_core::TaskCategory;
use om_registry::{Config, InstanceIdx, Outcome, Snapshot};
use om_router::{
    Candidate, Context, ModelMatch, RouteRequest, Router, RouterConfig, Strategy, StrategyKind,
};
use proptest::prelude::*;
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, name, registry};

fn router(kind: StrategyKind) -> Router {
    Router::new(RouterConfig { strategy: kind, ..RouterConfig::default() })
}

fn warm(model: &str, family: &str) -> ModelSpec {
    ModelSpec { loaded: true, ..ModelSpec::new(model, family) }
}

fn endpoint_of(snapshot: &Snapshot, index: InstanceIdx) -> String {
    snapshot.instance(index).id().endpoint.as_str().to_owned()
}

proptest! {
    /// Whatever the interleaving of requests for different models, each
    /// model's requests rotate over its instances: counts differ by at most one.
    #[test]
    fn round_robin_is_fair_over_any_sequence(
        endpoints in 1_usize..7,
        has_x in prop::collection::vec(any::<bool>(), 7),
        sequence in prop::collection::vec(0_usize..4, 0..300),
    ) {
        let fleet: Vec<EndpointSpecT> = (0..endpoints)
            .map(|i| {
                let mut models = vec![warm("m", "fam")];
                if has_x[i] {
                    models.push(warm("x", "other"));
                }
                EndpointSpecT::new(&format!("ep{i}"), models)
            })
            .collect();
        let now = Instant::now();
        let registry = registry(&fleet, Config::default(), now);
        let snapshot = registry.snapshot();
        let router = router(StrategyKind::RoundRobin);
        let requests = [
            RouteRequest::for_model(name("m")),
            RouteRequest::for_model(name("x")),
            RouteRequest::one_of(vec![ModelMatch::Family("fam".into())]),
            RouteRequest::any(),
        ];
        let mut counts: Vec<HashMap<InstanceIdx, u32>> = vec![HashMap::new(); requests.len()];
        for &r in &sequence {
            if let Ok(decision) = router.route(&requests[r], &snapshot, now) {
                *counts[r].entry(decision.chosen.instance).or_default() += 1;
            }
        }
        for (r, request) in requests.iter().enumerate() {
            let Ok(decision) = router.route(request, &snapshot, now) else { continue };
            let eligible = decision.why.eligible as usize;
            let per: Vec<u32> = counts[r].values().copied().collect();
            let total: u32 = per.iter().sum();
            let max = per.iter().copied().max().unwrap_or(0);
            let min = if per.len() < eligible { 0 } else { per.iter().copied().min().unwrap_or(0) };
            prop_assert!(max - min <= 1, "request {r}: {per:?} over {eligible} instances");
            prop_assert_eq!(total as usize, sequence.iter().filter(|&&s| s == r).count());
        }
    }

    /// Over whole rotations round-robin serves each endpoint exactly in
    /// proportion to its weight; random draws come close.
    #[test]
    fn weights_are_respected_in_distribution(weights in prop::collection::vec(1_u32..5, 1..6), seed in any::<u64>()) {
        let fleet: Vec<EndpointSpecT> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| EndpointSpecT { weight: f64::from(w), ..EndpointSpecT::new(&format!("ep{i}"), vec![warm("m", "fam")]) })
            .collect();
        let now = Instant::now();
        let registry = registry(&fleet, Config::default(), now);
        let snapshot = registry.snapshot();
        let request = RouteRequest::for_model(name("m"));
        let total_weight: u32 = weights.iter().sum();

        let rr = router(StrategyKind::RoundRobin);
        let rounds = 8;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for _ in 0..total_weight * rounds {
            let decision = rr.route(&request, &snapshot, now).unwrap();
            *counts.entry(endpoint_of(&snapshot, decision.chosen.instance)).or_default() += 1;
        }
        for (i, &w) in weights.iter().enumerate() {
            prop_assert_eq!(counts.get(&format!("ep{i}")).copied().unwrap_or(0), w * rounds);
        }

        let random = Router::new(RouterConfig { strategy: StrategyKind::Random, seed, ..RouterConfig::default() });
        let draws = 3000;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for _ in 0..draws {
            let decision = random.route(&request, &snapshot, now).unwrap();
            *counts.entry(endpoint_of(&snapshot, decision.chosen.instance)).or_default() += 1;
        }
        for (i, &w) in weights.iter().enumerate() {
            let share = f64::from(counts.get(&format!("ep{i}")).copied().unwrap_or(0)) / f64::from(draws);
            let want = f64::from(w) / f64::from(total_weight);
            prop_assert!((share - want).abs() < 0.05, "ep{i}: {share} vs {want}");
        }
    }
}

#[test]
fn round_robin_rotates_in_order_with_equal_weights() {
    let fleet: Vec<EndpointSpecT> =
        (0..3).map(|i| EndpointSpecT::new(&format!("ep{i}"), vec![warm("m", "fam")])).collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let rr = router(StrategyKind::RoundRobin);
    let request = RouteRequest::for_model(name("m"));
    let order: Vec<String> = (0..6)
        .map(|_| {
            endpoint_of(&snapshot, rr.route(&request, &snapshot, now).unwrap().chosen.instance)
        })
        .collect();
    assert_eq!(order, ["ep0", "ep1", "ep2", "ep0", "ep1", "ep2"]);
    // The fallbacks are the next ones around the ring.
    let decision = rr.route(&request, &snapshot, now).unwrap();
    let ranked: Vec<String> =
        decision.ranked().map(|c| endpoint_of(&snapshot, c.instance)).collect();
    assert_eq!(ranked, ["ep0", "ep1", "ep2"]);
}

#[test]
fn every_strategy_prefers_the_loaded_model_when_costs_are_close() {
    let fleet = vec![
        EndpointSpecT::new("cold", vec![ModelSpec::new("m", "fam")]),
        EndpointSpecT::new("warm", vec![warm("m", "fam")]),
    ];
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let request = RouteRequest::for_model(name("m"));
    // Cost-based strategies with nothing else to tell them apart: always warm.
    for kind in [
        StrategyKind::LeastLoaded,
        StrategyKind::Performance,
        StrategyKind::Affinity,
        StrategyKind::Hybrid,
    ] {
        let router = router(kind);
        for _ in 0..20 {
            let decision = router.route(&request, &snapshot, now).unwrap();
            assert_eq!(endpoint_of(&snapshot, decision.chosen.instance), "warm", "{kind}");
            assert!(decision.chosen.warm);
        }
    }
    // Share-based ones give the cold instance less (weight 1 against 1/1.5).
    for kind in [StrategyKind::RoundRobin, StrategyKind::Random] {
        let router = router(kind);
        let warm_share = (0..1070)
            .filter(|_| {
                endpoint_of(
                    &snapshot,
                    router.route(&request, &snapshot, now).unwrap().chosen.instance,
                ) == "warm"
            })
            .count();
        assert!((580..=700).contains(&warm_share), "{kind}: {warm_share} of 1070");
    }
    // A clearly cheaper cold instance still wins: the warm one is busy.
    let warm_index = snapshot.find_instance(&om_core::EndpointId::new("warm"), &name("m")).unwrap();
    let _busy: Vec<_> = (0..2).map(|_| snapshot.instance(warm_index).begin(now).unwrap()).collect();
    let decision = router(StrategyKind::LeastLoaded).route(&request, &snapshot, now).unwrap();
    assert_eq!(endpoint_of(&snapshot, decision.chosen.instance), "cold");
}

#[test]
fn least_loaded_spreads_in_flight_work_by_weight_and_capacity() {
    let fleet = vec![
        EndpointSpecT { weight: 2.0, ..EndpointSpecT::new("heavy", vec![warm("m", "fam")]) },
        EndpointSpecT::new("light", vec![warm("m", "fam")]),
        EndpointSpecT { capacity: Some(3), ..EndpointSpecT::new("wide", vec![warm("m", "fam")]) },
    ];
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let router = router(StrategyKind::LeastLoaded);
    let request = RouteRequest::for_model(name("m"));
    let mut held = Vec::new();
    for _ in 0..60 {
        let decision = router.route(&request, &snapshot, now).unwrap();
        held.push(snapshot.instance(decision.chosen.instance).begin(now).unwrap());
    }
    let in_flight = |e: &str| {
        let index = snapshot.find_endpoint(&om_core::EndpointId::new(e)).unwrap();
        snapshot.endpoint(index).live.in_flight()
    };
    // weight × capacity: 2, 1, 3 → 20, 10, 30 of 60 (within one).
    assert!(in_flight("heavy").abs_diff(20) <= 1, "{}", in_flight("heavy"));
    assert!(in_flight("light").abs_diff(10) <= 1, "{}", in_flight("light"));
    assert!(in_flight("wide").abs_diff(30) <= 1, "{}", in_flight("wide"));
}

#[test]
fn performance_prefers_the_faster_instance_until_load_evens_it_out() {
    let fleet = vec![
        EndpointSpecT::new("slow", vec![warm("m", "fam")]),
        EndpointSpecT::new("fast", vec![warm("m", "fam")]),
        EndpointSpecT::new("new", vec![warm("m", "fam")]),
    ];
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let index = |e: &str| snapshot.find_instance(&om_core::EndpointId::new(e), &name("m")).unwrap();
    let outcome = |ttft_ms: u64, tps: f64| {
        let mut o = Outcome::success().with_ttft(Duration::from_millis(ttft_ms));
        o.tokens_per_sec = Some(tps);
        o.latency = Some(Duration::from_millis(ttft_ms + 2000));
        o
    };
    snapshot.instance(index("slow")).live.record(&outcome(900, 20.0), now);
    snapshot.instance(index("fast")).live.record(&outcome(100, 80.0), now);
    let router = router(StrategyKind::Performance);
    let request = RouteRequest::for_model(name("m")).with_tokens(100, Some(400));
    let decision = router.route(&request, &snapshot, now).unwrap();
    let ranked: Vec<String> =
        decision.ranked().map(|c| endpoint_of(&snapshot, c.instance)).collect();
    // `new` has no measurements and is assumed as fast as the fastest; the
    // random key orders it against `fast`; `slow` is last.
    assert_eq!(ranked[2], "slow");
    assert!(ranked[..2].contains(&"fast".to_owned()) && ranked[..2].contains(&"new".to_owned()));

    // A failing fast instance costs its expected retries.
    let fault = Outcome::failure(&om_core::Error::from_status(500, "boom"));
    for _ in 0..3 {
        snapshot.instance(index("fast")).live.record(&fault, now);
    }
    snapshot.instance(index("new")).live.record(&outcome(900, 20.0), now);
    let decision = router.route(&request, &snapshot, now).unwrap();
    // fast: (0.1 + 5) / 0.25 = 20.4 s against slow/new: 0.9 + 20 = 20.9 s.
    assert_eq!(endpoint_of(&snapshot, decision.chosen.instance), "fast");
    snapshot.instance(index("fast")).live.record(&fault, now);
    let decision = router.route(&request, &snapshot, now).unwrap();
    assert_ne!(endpoint_of(&snapshot, decision.chosen.instance), "fast");
}

#[test]
fn random_is_reproducible_from_its_seed() {
    let fleet: Vec<EndpointSpecT> =
        (0..5).map(|i| EndpointSpecT::new(&format!("ep{i}"), vec![warm("m", "fam")])).collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let request = RouteRequest::for_model(name("m"));
    let run = |seed| {
        let router = Router::new(RouterConfig {
            strategy: StrategyKind::Random,
            seed,
            ..RouterConfig::default()
        });
        (0..50)
            .map(|_| router.route(&request, &snapshot, now).unwrap().chosen.instance)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

/// Prefers the endpoint whose name sorts last; proves the trait plugs in.
#[derive(Debug)]
struct LastByName;

impl Strategy for LastByName {
    fn name(&self) -> &'static str {
        "last_by_name"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        for c in candidates {
            let endpoint = ctx.snapshot.endpoint(ctx.snapshot.instance(c.instance).endpoint);
            c.cost = -f64::from(endpoint.id.as_str().as_bytes()[2]);
        }
    }
}

#[test]
fn strategies_per_category_and_custom_ones() {
    let fleet: Vec<EndpointSpecT> =
        (0..3).map(|i| EndpointSpecT::new(&format!("ep{i}"), vec![warm("m", "fam")])).collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let config =
        RouterConfig::from_names("round_robin", [(TaskCategory::Coding, "least_loaded")]).unwrap();
    let router =
        Router::new(config).with_category_strategy(TaskCategory::Testing, Arc::new(LastByName));
    let request = RouteRequest::for_model(name("m"));

    assert_eq!(router.route(&request, &snapshot, now).unwrap().why.strategy, "round_robin");
    let coding = request.clone().with_category(TaskCategory::Coding);
    assert_eq!(router.route(&coding, &snapshot, now).unwrap().why.strategy, "least_loaded");
    let testing = request.clone().with_category(TaskCategory::Testing);
    let decision = router.route(&testing, &snapshot, now).unwrap();
    assert_eq!(decision.why.strategy, "last_by_name");
    assert_eq!(endpoint_of(&snapshot, decision.chosen.instance), "ep2");

    let everywhere = Router::new(RouterConfig::default()).with_strategy(Arc::new(LastByName));
    assert_eq!(everywhere.route(&coding, &snapshot, now).unwrap().why.strategy, "last_by_name");
}
