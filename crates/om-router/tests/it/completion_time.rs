//! The completion-time strategy: a fast busy box against an idle slow one,
//! the work held ahead, exploring unmeasured instances, deferring cold
//! loads, and output lengths learned per category.

use std::time::Duration;

use om_core::{EndpointId, Priority, TaskCategory};
use om_registry::{Config, InFlight, InstanceIdx, Outcome, Registry, Snapshot};
use om_router::{Decision, RouteRequest, Router, RouterConfig, StrategyKind};
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, name, registry};

/// A loaded model on an endpoint of one slot.
fn endpoint(name: &str) -> EndpointSpecT {
    EndpointSpecT {
        capacity: Some(1),
        ..EndpointSpecT::new(name, vec![ModelSpec { loaded: true, ..ModelSpec::new("m", "fam") }])
    }
}

struct Fleet {
    registry: Registry,
    snapshot: std::sync::Arc<Snapshot>,
    router: Router,
    now: Instant,
}

impl Fleet {
    fn new(endpoints: &[EndpointSpecT]) -> Self {
        let now = Instant::now();
        let registry = registry(endpoints, Config::default(), now);
        let snapshot = registry.snapshot();
        let router = Router::new(RouterConfig::default());
        Self { registry, snapshot, router, now }
    }

    fn index(&self, endpoint: &str) -> InstanceIdx {
        self.snapshot.find_instance(&EndpointId::new(endpoint), &name("m")).expect("instance")
    }

    /// Records a finished request at `tokens_per_sec` (ttft 10 ms).
    fn measure(&self, endpoint: &str, tokens_per_sec: f64) {
        let mut outcome = Outcome::success().with_ttft(Duration::from_millis(10));
        outcome.tokens_per_sec = Some(tokens_per_sec);
        self.snapshot.instance(self.index(endpoint)).live.record(&outcome, self.now);
    }

    /// Starts a request on `endpoint` expected to take `secs`.
    fn run(&self, endpoint: &str, secs: f64) -> InFlight {
        let mut in_flight =
            self.snapshot.instance(self.index(endpoint)).begin(self.now).expect("admitted");
        in_flight.expect(Duration::from_secs_f64(secs));
        in_flight
    }

    fn route(&self, request: &RouteRequest) -> Decision {
        self.router.route(request, &self.snapshot, self.now).expect("a route")
    }

    fn chosen(&self, request: &RouteRequest) -> (String, f64) {
        let decision = self.route(request);
        let instance = self.snapshot.instance(decision.chosen.instance);
        (instance.id().endpoint.as_str().to_owned(), decision.chosen.wait)
    }
}

fn tokens(n: u64) -> RouteRequest {
    RouteRequest::for_model(name("m")).with_tokens(10, Some(n))
}

#[test]
fn it_is_the_default() {
    assert_eq!(om_router::RouterConfig::default().strategy, StrategyKind::CompletionTime);
    assert_eq!("completion-time".parse::<StrategyKind>(), Ok(StrategyKind::CompletionTime));
}

#[test]
fn a_busy_fast_box_beats_an_idle_slow_one_when_it_finishes_first() {
    let fleet = Fleet::new(&[endpoint("slow"), endpoint("fast")]);
    fleet.measure("slow", 20.0);
    fleet.measure("fast", 200.0);
    let _running = fleet.run("fast", 1.0);

    // 100 tokens: fast ends after 1 s + 0.5 s, slow after 5 s — hold for fast.
    let (chosen, wait) = fleet.chosen(&tokens(100));
    assert_eq!(chosen, "fast");
    assert!((wait - 1.0).abs() < 0.01, "wait {wait}");

    // 10 tokens: slow ends after 0.5 s, before fast is even free.
    let (chosen, wait) = fleet.chosen(&tokens(10));
    assert_eq!(chosen, "slow");
    assert!(wait.abs() < f64::EPSILON);
}

#[test]
fn held_work_of_earlier_tickets_counts_and_a_higher_priority_skips_it() {
    let fleet = Fleet::new(&[endpoint("slow"), endpoint("fast")]);
    fleet.measure("slow", 20.0);
    fleet.measure("fast", 200.0);
    let fast = &fleet.snapshot.endpoint(fleet.snapshot.instance(fleet.index("fast")).endpoint).live;
    // Six seconds of normal work queued for fast, ahead of what follows.
    let _held = fast.hold(fleet.registry.ticket(Priority::Normal), Duration::from_secs(6));

    let mut normal = tokens(100);
    normal.ticket = Some(fleet.registry.ticket(Priority::Normal));
    assert_eq!(fleet.chosen(&normal).0, "slow", "6.5 s on fast against 5 s on slow");

    let mut urgent = tokens(100);
    urgent.ticket = Some(fleet.registry.ticket(Priority::High));
    let (chosen, wait) = fleet.chosen(&urgent);
    assert_eq!(chosen, "fast", "a high-priority request is not behind normal work");
    assert!(wait.abs() < f64::EPSILON);
}

#[test]
fn an_unmeasured_instance_takes_one_request_until_its_first_answer() {
    let two_slots = |name| EndpointSpecT { capacity: Some(2), ..endpoint(name) };
    let fleet = Fleet::new(&[two_slots("known"), two_slots("new")]);
    fleet.measure("known", 100.0);
    // Assumed as fast as the fastest, `new` gets tried first...
    let _known = fleet.run("known", 1.0);
    assert_eq!(fleet.chosen(&tokens(100)).0, "new");
    // ...but while it runs that request, a second one waits for it to end
    // rather than take its free slot.
    let _first = fleet.run("new", 3.0);
    let (chosen, wait) = fleet.chosen(&tokens(100));
    assert_eq!(chosen, "known");
    assert!(wait.abs() < f64::EPSILON, "known has a free slot");

    fleet.measure("new", 100.0);
    let decision = fleet.route(&tokens(100));
    let new = decision.ranked().find(|c| c.instance == fleet.index("new")).expect("ranked");
    assert!(new.wait.abs() < f64::EPSILON, "measured: both slots count again");
}

#[test]
fn cold_loads_wait_until_some_speed_is_measured() {
    let cold = EndpointSpecT {
        capacity: Some(1),
        ..EndpointSpecT::new("cold", vec![ModelSpec::new("m", "fam")])
    };
    let fleet = Fleet::new(&[endpoint("warm"), cold]);
    // Nothing measured: the warm box's queue is a guess, the load is sure.
    let _running = fleet.run("warm", 30.0);
    let (chosen, wait) = fleet.chosen(&tokens(100));
    assert_eq!(chosen, "warm");
    assert!(wait > 29.0, "held for the warm box, {wait}");
    // Measured: 30 s of queue against a 3 s load, the load wins.
    fleet.measure("warm", 100.0);
    assert_eq!(fleet.chosen(&tokens(100)).0, "cold");
}

#[test]
fn output_length_is_learned_per_category_when_num_predict_is_absent() {
    let fleet = Fleet::new(&[endpoint("only")]);
    fleet.measure("only", 100.0);
    for (category, tokens) in [(TaskCategory::Coding, 400), (TaskCategory::General, 20)] {
        let mut outcome = Outcome::success().with_category(category);
        outcome.tokens = Some(tokens);
        outcome.tokens_per_sec = Some(100.0);
        fleet.snapshot.instance(fleet.index("only")).live.record(&outcome, fleet.now);
    }
    let service = |category| {
        let mut request = RouteRequest::for_model(name("m"));
        request.category = Some(category);
        fleet.route(&request).chosen.service.expect("a service estimate")
    };
    let (coding, general) = (service(TaskCategory::Coding), service(TaskCategory::General));
    assert!((coding - 4.01).abs() < 0.05, "coding {coding}");
    assert!((general - 0.21).abs() < 0.05, "general {general}");
    // num_predict, when given, is the length.
    let given = fleet.route(&tokens(50)).chosen.service.expect("a service estimate");
    assert!((given - 0.51).abs() < 0.05, "given {given}");
}
