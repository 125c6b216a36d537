//! Decisions over more candidates than the exact limit: sampled, and still
//! fair, weighted, load-spreading and loaded-model-preferring.

use std::collections::HashMap;

use om_registry::{Config, InstanceIdx, Snapshot};
use om_router::{ModelMatch, RouteRequest, Router, RouterConfig, StrategyKind};
use proptest::prelude::*;
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, name, registry};

fn router(kind: StrategyKind, seed: u64) -> Router {
    Router::new(RouterConfig { strategy: kind, seed, ..RouterConfig::default() })
}

fn warm(model: &str, family: &str) -> ModelSpec {
    ModelSpec { loaded: true, ..ModelSpec::new(model, family) }
}

fn endpoint_of(snapshot: &Snapshot, index: InstanceIdx) -> String {
    snapshot.instance(index).id().endpoint.as_str().to_owned()
}

/// The share of a weight in 1/64ths, as the rotation counts it.
fn quanta(weight: f64) -> u32 {
    (weight * 64.0 + 0.5) as u32
}

#[test]
fn a_large_decision_says_it_sampled() {
    let fleet: Vec<EndpointSpecT> = (0..100)
        .map(|i| EndpointSpecT::new(&format!("ep{i:03}"), vec![warm("m", "fam")]))
        .collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    for kind in StrategyKind::ALL {
        let decision = router(kind, 1).route(&RouteRequest::any(), &snapshot, now).unwrap();
        let why = decision.why;
        assert!(why.sampled, "{kind}");
        assert_eq!(why.considered, 100);
        assert!(why.eligible >= 4 && why.eligible < 100, "{kind}: {}", why.eligible);
        assert_eq!(decision.fallbacks.len(), 3);
        let text = why.to_string();
        assert!(
            text.starts_with(&format!(
                "{0} of {0} instances eligible, sampled from 100",
                why.eligible
            )),
            "{text}"
        );
    }
    // At the limit, exact.
    let config = RouterConfig { exact_limit: 100, ..RouterConfig::default() };
    let decision = Router::new(config).route(&RouteRequest::any(), &snapshot, now).unwrap();
    assert!(!decision.why.sampled);
    assert_eq!(decision.why.eligible, 100);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Round-robin over a rotation: with equal weights, each selection's
    /// requests rotate over its eligible instances whatever the
    /// interleaving — counts differ by at most one — as over a small fleet.
    /// A turn due to an unhealthy instance passes to the next eligible one;
    /// with few healthy ones the router filters every candidate to find it.
    #[test]
    fn round_robin_is_fair_over_any_sequence_in_a_large_fleet(
        endpoints in 65_usize..110,
        has_x in prop::collection::vec(any::<bool>(), 110),
        healthy in prop::collection::vec(prop::bool::weighted(0.8), 110),
        few_healthy in any::<bool>(),
        sequence in prop::collection::vec(0_usize..4, 0..400),
    ) {
        // Few healthy: only every 40th endpoint, too far apart for the next
        // few turns to find.
        let healthy: Vec<bool> =
            (0..endpoints).map(|i| if few_healthy { i % 40 == 3 } else { healthy[i] }).collect();
        let fleet: Vec<EndpointSpecT> = (0..endpoints)
            .map(|i| {
                let mut models = vec![warm("m", "fam")];
                if has_x[i] {
                    models.push(warm("x", "other"));
                }
                EndpointSpecT { healthy: healthy[i], ..EndpointSpecT::new(&format!("ep{i:03}"), models) }
            })
            .collect();
        let now = Instant::now();
        let registry = registry(&fleet, Config::default(), now);
        let snapshot = registry.snapshot();
        let router = router(StrategyKind::RoundRobin, 1);
        let up = healthy.iter().filter(|h| **h).count();
        let up_with_x = (0..endpoints).filter(|&i| healthy[i] && has_x[i]).count();
        let requests = [
            (RouteRequest::for_model(name("m")), up),
            (RouteRequest::for_model(name("x")), up_with_x),
            (RouteRequest::one_of(vec![ModelMatch::Family("fam".into())]), up),
            (RouteRequest::any(), up + up_with_x),
        ];
        let mut counts: Vec<HashMap<InstanceIdx, u32>> = vec![HashMap::new(); requests.len()];
        for &r in &sequence {
            if let Ok(decision) = router.route(&requests[r].0, &snapshot, now) {
                let (e, _) = crate::support::spec_of(&fleet, &snapshot, decision.chosen.instance);
                prop_assert!(e.healthy, "{} is unhealthy", e.name);
                *counts[r].entry(decision.chosen.instance).or_default() += 1;
            }
        }
        for (r, (_, eligible)) in requests.iter().enumerate() {
            let per: Vec<u32> = counts[r].values().copied().collect();
            let total: u32 = per.iter().sum();
            let max = per.iter().copied().max().unwrap_or(0);
            let min = if per.len() < *eligible { 0 } else { per.iter().copied().min().unwrap_or(0) };
            prop_assert!(max - min <= 1, "request {r}: {per:?} over {eligible} instances");
            let asked = sequence.iter().filter(|&&s| s == r).count();
            prop_assert_eq!(total as usize, if *eligible == 0 { 0 } else { asked });
        }
    }

    /// Random draws follow the weights (endpoint weight, less for a cold
    /// instance) over the eligible instances, without looking at them all.
    #[test]
    fn random_draws_follow_weights_in_a_large_fleet(
        weights in prop::collection::vec(1_u32..5, 80..120),
        seed in any::<u64>(),
    ) {
        let fleet: Vec<EndpointSpecT> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| EndpointSpecT {
                weight: f64::from(w),
                healthy: i % 9 != 4,
                ..EndpointSpecT::new(&format!("ep{i:03}"), vec![ModelSpec { loaded: i % 5 != 0, ..ModelSpec::new("m", "fam") }])
            })
            .collect();
        let now = Instant::now();
        let registry = registry(&fleet, Config::default(), now);
        let snapshot = registry.snapshot();
        let random = router(StrategyKind::Random, seed);
        let request = RouteRequest::for_model(name("m"));
        let draws = 4000;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for _ in 0..draws {
            let decision = random.route(&request, &snapshot, now).unwrap();
            prop_assert!(decision.why.sampled);
            *counts.entry(endpoint_of(&snapshot, decision.chosen.instance)).or_default() += 1;
        }
        // Shares per weight class (weight, warm), against the exact ones.
        // Over 4,000 draws a share's standard deviation is below 0.008, so
        // 0.04 is five of them: a correct draw fails about once in millions.
        let effective = |e: &EndpointSpecT| {
            let cold = !e.models[0].loaded;
            if e.healthy { e.weight / if cold { 1.5 } else { 1.0 } } else { 0.0 }
        };
        let total: f64 = fleet.iter().map(effective).sum();
        let mut classes: HashMap<(u32, bool), (f64, u32)> = HashMap::new();
        for e in &fleet {
            let got = counts.get(&e.name).copied().unwrap_or(0);
            if !e.healthy {
                prop_assert_eq!(got, 0, "{} is unhealthy", e.name);
            }
            let class = classes.entry((e.weight as u32, e.models[0].loaded)).or_default();
            class.0 += effective(e) / total;
            class.1 += got;
        }
        for ((weight, loaded), (want, got)) in classes {
            let share = f64::from(got) / f64::from(draws);
            prop_assert!((share - want).abs() < 0.04, "weight {weight}, loaded {loaded}: {share} vs {want}");
        }
    }
}

/// Over a whole rotation each eligible instance gets exactly its weight's
/// share of turns (to 1/64): endpoint weight, divided by 1.5 when the model
/// is not loaded. The turns that land on unhealthy instances pass on.
#[test]
fn round_robin_rotation_gives_exact_weight_shares_in_a_large_fleet() {
    let fleet: Vec<EndpointSpecT> = (0..70)
        .map(|i| EndpointSpecT {
            weight: f64::from(i % 3 + 1),
            healthy: i % 10 != 7,
            ..EndpointSpecT::new(
                &format!("ep{i:03}"),
                vec![ModelSpec { loaded: i % 4 != 0, ..ModelSpec::new("m", "fam") }],
            )
        })
        .collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let rr = router(StrategyKind::RoundRobin, 1);
    let request = RouteRequest::for_model(name("m"));
    let due = |e: &EndpointSpecT| {
        if !e.healthy {
            0
        } else if e.models[0].loaded {
            quanta(e.weight)
        } else {
            quanta(e.weight / 1.5)
        }
    };
    let rotation: u32 = fleet.iter().map(due).sum();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..rotation {
        let decision = rr.route(&request, &snapshot, now).unwrap();
        assert!(decision.why.sampled);
        *counts.entry(endpoint_of(&snapshot, decision.chosen.instance)).or_default() += 1;
    }
    for e in &fleet {
        assert_eq!(counts.get(&e.name).copied().unwrap_or(0), due(e), "{}", e.name);
    }
    // The fallbacks are the next eligible instances in order.
    let decision = rr.route(&request, &snapshot, now).unwrap();
    let ranked: Vec<usize> = decision
        .ranked()
        .map(|c| endpoint_of(&snapshot, c.instance)[2..].parse().expect("numbered"))
        .collect();
    for pair in ranked.windows(2) {
        let next = (pair[0] + 1) % 70;
        let expected = if next % 10 == 7 { (next + 1) % 70 } else { next };
        assert_eq!(pair[1], expected, "{ranked:?}");
    }
}

/// Power of k choices keeps in-flight work even: 300 requests held on 100
/// equal endpoints, each decision looking at a sample, leave no endpoint
/// far above the mean of 3.
#[test]
fn sampled_least_loaded_keeps_in_flight_work_even() {
    let fleet: Vec<EndpointSpecT> = (0..100)
        .map(|i| EndpointSpecT::new(&format!("ep{i:03}"), vec![warm("m", "fam")]))
        .collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    for kind in [StrategyKind::LeastLoaded, StrategyKind::Hybrid] {
        let router = router(kind, 7);
        let request = RouteRequest::for_model(name("m"));
        let mut held = Vec::new();
        for _ in 0..300 {
            let decision = router.route(&request, &snapshot, now).unwrap();
            assert!(decision.why.sampled);
            held.push(snapshot.instance(decision.chosen.instance).begin(now).unwrap());
        }
        let max = snapshot.endpoints().iter().map(|e| e.live.in_flight()).max().unwrap();
        assert!(max <= 5, "{kind}: an endpoint holds {max} of 300 over 100");
    }
}

/// A model loaded on 2 of 100 endpoints: cost-based strategies still find
/// a loaded instance every time, though a uniform sample would mostly miss
/// both.
#[test]
fn a_sample_always_looks_at_the_few_loaded_instances() {
    let fleet: Vec<EndpointSpecT> = (0..100)
        .map(|i| {
            let model =
                if i == 31 || i == 77 { warm("m", "fam") } else { ModelSpec::new("m", "fam") };
            EndpointSpecT::new(&format!("ep{i:03}"), vec![model])
        })
        .collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let request = RouteRequest::for_model(name("m"));
    for kind in [
        StrategyKind::LeastLoaded,
        StrategyKind::Performance,
        StrategyKind::Affinity,
        StrategyKind::Hybrid,
    ] {
        let router = router(kind, 3);
        for _ in 0..50 {
            let decision = router.route(&request, &snapshot, now).unwrap();
            assert!(decision.why.sampled);
            assert!(decision.chosen.warm, "{kind}");
            let chosen = endpoint_of(&snapshot, decision.chosen.instance);
            assert!(chosen == "ep031" || chosen == "ep077", "{kind}: {chosen}");
        }
    }
}
