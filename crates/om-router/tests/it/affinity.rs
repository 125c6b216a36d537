//! Affinity learning converges on the better model and keeps exploring.

use om_core::TaskCategory;
use om_core::rng::SplitMix64;
use om_registry::{Config, Outcome};
use om_router::{RouteRequest, Router, RouterConfig, StrategyKind};
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, registry};

/// Model `a` succeeds 95% of the time on coding, the others (`b`, …) 60%,
/// each on every one of `endpoints`. After a warm-up, `a` should get at
/// least 80% of coding tasks while the others still get some. Returns the
/// tasks after the warm-up that went to `a` and to the others.
fn converges(kind: StrategyKind, endpoints: usize, models: usize) -> (usize, usize) {
    let names: Vec<String> = (0..models).map(|m| char::from(b'a' + m as u8).to_string()).collect();
    let fleet: Vec<EndpointSpecT> = (0..endpoints)
        .map(|e| {
            let models = names.iter().map(|n| ModelSpec::new(n, "fam")).collect();
            EndpointSpecT::new(&format!("ep{e:03}"), models)
        })
        .collect();
    let now = Instant::now();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let router = Router::new(RouterConfig { strategy: kind, ..RouterConfig::default() });
    let request = RouteRequest::any().with_category(TaskCategory::Coding);
    let mut dice = SplitMix64::new(42);
    let (warm_up, rounds) = (200, 2000);
    let (mut a, mut b) = (0, 0);
    for round in 0..rounds {
        let decision = router.route(&request, &snapshot, now).expect("both models are eligible");
        let instance = snapshot.instance(decision.chosen.instance);
        let is_a = instance.id().model.model() == "a";
        // A wrong answer is a successful request of quality 0: the
        // breaker and success rate are about the instance, not the answer.
        let quality = if dice.chance(if is_a { 0.95 } else { 0.60 }) { 1.0 } else { 0.0 };
        let outcome = Outcome::success().with_category(TaskCategory::Coding).with_quality(quality);
        instance.begin(now).expect("breakers stay closed").finish(&outcome, now);
        if round >= warm_up {
            if is_a { a += 1 } else { b += 1 }
        }
    }
    (a, b)
}

#[test]
fn affinity_learning_converges_and_keeps_exploring() {
    let (a, b) = converges(StrategyKind::Affinity, 2, 2);
    let share = a as f64 / (a + b) as f64;
    assert!(share >= 0.8, "a got {share:.3} of coding tasks");
    // UCB1 explores logarithmically: a few dozen tries over the run.
    assert!(b >= 5, "b must still be explored, got {b}");
}

#[test]
fn hybrid_learning_converges_and_keeps_exploring() {
    let (a, b) = converges(StrategyKind::Hybrid, 2, 2);
    let share = a as f64 / (a + b) as f64;
    assert!(share >= 0.8, "a got {share:.3} of coding tasks");
    // UCB1 explores logarithmically: a few dozen tries over the run.
    assert!(b >= 5, "b must still be explored, got {b}");
}

/// The same over 80 instances — sampled decisions — and over 240 with six
/// models: each sample holds an instance of every model, so the learned
/// quality still finds `a`.
#[test]
fn learning_converges_and_keeps_exploring_in_a_large_fleet() {
    for kind in [StrategyKind::Affinity, StrategyKind::Hybrid] {
        for (endpoints, models) in [(40, 2), (40, 6)] {
            let (a, others) = converges(kind, endpoints, models);
            let share = a as f64 / (a + others) as f64;
            assert!(share >= 0.8, "{kind}, {models} models: a got {share:.3} of coding tasks");
            assert!(others >= 5, "{kind}, {models} models: the others got {others}");
        }
    }
}
