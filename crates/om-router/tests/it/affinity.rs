//! Affinity learning converges on the better model and keeps exploring.

use om_core::TaskCategory;
use om_core::rng::SplitMix64;
use om_registry::{Config, Outcome};
use om_router::{RouteRequest, Router, RouterConfig, StrategyKind};
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, registry};

/// Model `a` succeeds 95% of the time on coding, `b` 60%. After a warm-up,
/// `a` gets at least 80% of coding tasks while `b` still gets some.
fn converges(kind: StrategyKind) -> (usize, usize) {
    let fleet = vec![
        EndpointSpecT::new("one", vec![ModelSpec::new("a", "fam"), ModelSpec::new("b", "fam")]),
        EndpointSpecT::new("two", vec![ModelSpec::new("a", "fam"), ModelSpec::new("b", "fam")]),
    ];
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
    let (a, b) = converges(StrategyKind::Affinity);
    let share = a as f64 / (a + b) as f64;
    assert!(share >= 0.8, "a got {share:.3} of coding tasks");
    // UCB1 explores logarithmically: a few dozen tries over the run.
    assert!(b >= 5, "b must still be explored, got {b}");
}

#[test]
fn hybrid_learning_converges_and_keeps_exploring() {
    let (a, b) = converges(StrategyKind::Hybrid);
    let share = a as f64 / (a + b) as f64;
    assert!(share >= 0.8, "a got {share:.3} of coding tasks");
    // UCB1 explores logarithmically: a few dozen tries over the run.
    assert!(b >= 5, "b must still be explored, got {b}");
}
