//! The router never chooses an ineligible instance, and says why it removed
//! the others.

use om_core::{Capabilities, Capability, EndpointId, TaskCategory};
use om_registry::{Config, InstanceId};
use om_router::{ModelMatch, ModelSelector, RouteRequest, Router, RouterConfig, StrategyKind};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::time::Instant;

use crate::support::{EndpointSpecT, ModelSpec, name, registry, spec_of};

const MODELS: [(&str, &str); 4] = [
    ("llama3.2", "llama"),
    ("qwen2.5-coder:7b", "qwen2"),
    ("mistral", "llama"),
    ("nomic-embed", "bert"),
];
const TAGS: [&str; 3] = ["gpu", "fast", "eu"];

fn caps(bits: u8) -> Capabilities {
    Capability::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn model_spec() -> impl Strategy<Value = ModelSpec> {
    (
        0..MODELS.len(),
        any::<u8>(),
        prop_oneof![Just(None), Just(Some(2048_u64)), Just(Some(8192)), Just(Some(32_768))],
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(m, bits, context, loaded, breaker_open, cooling)| {
            let (model, family) = MODELS[m];
            ModelSpec {
                capabilities: caps(bits & 0b11_1111),
                context,
                loaded,
                breaker_open,
                cooling,
                ..ModelSpec::new(model, family)
            }
        })
}

fn endpoint_spec(i: usize) -> impl Strategy<Value = EndpointSpecT> {
    (
        prop::bool::weighted(0.8),
        1_u32..4,
        prop::sample::subsequence(TAGS.to_vec(), 0..=2),
        prop::collection::vec(model_spec(), 0..4),
    )
        .prop_map(move |(healthy, weight, tags, models)| {
            // One instance per model name on an endpoint.
            let mut seen = Vec::new();
            let models = models.into_iter().filter(|m| {
                let new = !seen.contains(&m.name);
                seen.push(m.name.clone());
                new
            });
            EndpointSpecT {
                healthy,
                weight: f64::from(weight),
                tags: tags.into_iter().map(str::to_owned).collect(),
                ..EndpointSpecT::new(&format!("ep{i}"), models.collect())
            }
        })
}

fn fleet(endpoints: std::ops::Range<usize>) -> impl Strategy<Value = Vec<EndpointSpecT>> {
    endpoints.prop_flat_map(|n| (0..n).map(endpoint_spec).collect::<Vec<_>>())
}

/// Requests with prompts up to `max_prompt` tokens: the larger, the more
/// instances the context filter removes.
fn request(max_prompt: u64) -> impl Strategy<Value = RouteRequest> {
    let selector = prop_oneof![
        Just(ModelSelector::Any),
        (0..MODELS.len()).prop_map(|m| ModelSelector::Model(name(MODELS[m].0))),
        (0..MODELS.len()).prop_map(|m| ModelSelector::OneOf(vec![ModelMatch::Family(
            MODELS[m].1.to_uppercase()
        )])),
        (0..MODELS.len(), 0..MODELS.len()).prop_map(|(a, b)| ModelSelector::OneOf(vec![
            ModelMatch::Name(name(MODELS[a].0)),
            ModelMatch::Family(MODELS[b].1.to_owned()),
        ])),
    ];
    (
        selector,
        any::<u8>(),
        0..max_prompt,
        prop::option::of(0_u64..4_000),
        prop::sample::subsequence(TAGS.to_vec(), 0..=1),
        prop::option::of(0_usize..6),
        prop::option::of(0_usize..TaskCategory::ALL.len()),
    )
        .prop_map(|(models, bits, prompt, predict, tags, exclude, category)| RouteRequest {
            models,
            // Mostly easy requirements, so that decisions happen.
            capabilities: caps(bits & 0b0000_0111 & (bits >> 3)),
            prompt_tokens: prompt,
            num_predict: predict,
            category: category.map(|c| TaskCategory::ALL[c]),
            tags: tags.into_iter().map(str::to_owned).collect(),
            exclude_endpoints: exclude
                .map(|e| EndpointId::new(format!("ep{e}")))
                .into_iter()
                .collect(),
            ..RouteRequest::default()
        })
}

/// The oracle: whether `model` on `endpoint` may serve `request`, computed
/// from the fleet description, not from the registry.
fn eligible(endpoint: &EndpointSpecT, model: &ModelSpec, request: &RouteRequest) -> bool {
    let selected = match &request.models {
        ModelSelector::Any => true,
        ModelSelector::Model(n) => name(&model.name) == *n,
        ModelSelector::OneOf(list) => list.iter().any(|m| match m {
            ModelMatch::Name(n) => name(&model.name) == *n,
            ModelMatch::Family(f) => model.family.eq_ignore_ascii_case(f),
        }),
    };
    selected
        && !request.exclude_endpoints.iter().any(|e| e.as_str() == endpoint.name)
        && model.capabilities.contains(request.capabilities)
        && model.context.is_none_or(|c| c >= request.context_needed())
        && request.tags.iter().all(|t| endpoint.tags.contains(t))
        && endpoint.healthy
        && !model.breaker_open
        && !model.cooling
}

/// Routes `request` over `fleet` and checks the decision against the
/// oracle. A sampled decision (more candidates than `exact_limit`) counts
/// within its sample, but ranks as many instances as an exact one would.
fn check_decision(
    fleet: &[EndpointSpecT],
    request: &RouteRequest,
    strategy: StrategyKind,
    exact_limit: usize,
) -> Result<(), TestCaseError> {
    let now = Instant::now();
    let registry = registry(fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let config = RouterConfig { strategy, exact_limit, ..RouterConfig::default() };
    let router = Router::new(config);
    let expected = fleet
        .iter()
        .flat_map(|e| e.models.iter().map(move |m| (e, m)))
        .filter(|(e, m)| eligible(e, m, request))
        .count();
    // Twice: a rotation or a draw may land elsewhere the second time.
    for _ in 0..2 {
        match router.route(request, &snapshot, now) {
            Ok(decision) => {
                let why = decision.why;
                let filtered = why.removed.total() + why.eligible;
                if why.sampled {
                    prop_assert!(why.considered as usize > exact_limit, "sampled a small set");
                    prop_assert!(filtered < why.considered);
                    prop_assert!(why.eligible as usize <= expected);
                } else {
                    prop_assert_eq!(filtered, why.considered);
                    prop_assert_eq!(why.eligible as usize, expected);
                }
                let mut seen = Vec::new();
                for choice in decision.ranked() {
                    let (e, m) = spec_of(fleet, &snapshot, choice.instance);
                    prop_assert!(eligible(e, m, request), "chose {} on {}", m.name, e.name);
                    prop_assert!(!seen.contains(&choice.instance), "ranked twice");
                    seen.push(choice.instance);
                }
                prop_assert_eq!(seen.len(), expected.min(4));
            }
            Err(no_route) => {
                prop_assert_eq!(
                    expected,
                    0,
                    "refused although {} were eligible: {}",
                    expected,
                    no_route
                );
                prop_assert!(!no_route.why.sampled, "a refusal counts exactly");
                prop_assert_eq!(no_route.why.eligible, 0);
                prop_assert_eq!(no_route.why.removed.total(), no_route.why.considered);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_chooses_an_ineligible_instance(
        fleet in fleet(1..6),
        request in request(40_000),
        strategy in 0..StrategyKind::ALL.len(),
    ) {
        check_decision(&fleet, &request, StrategyKind::ALL[strategy], 64)?;
    }

    /// The same fleets with a limit below their size: every decision is
    /// sampled, or exact when the sample finds too few.
    #[test]
    fn never_chooses_an_ineligible_instance_when_sampling(
        fleet in fleet(1..8),
        request in request(6_000),
        strategy in 0..StrategyKind::ALL.len(),
        exact_limit in 0_usize..6,
    ) {
        check_decision(&fleet, &request, StrategyKind::ALL[strategy], exact_limit)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Fleets above the default limit, half the requests for any model
    /// (so that they have more candidates than the limit).
    #[test]
    fn never_chooses_an_ineligible_instance_in_a_large_fleet(
        fleet in fleet(60..120),
        mut request in request(6_000),
        any_model in any::<bool>(),
        strategy in 0..StrategyKind::ALL.len(),
    ) {
        if any_model {
            request.models = ModelSelector::Any;
        }
        check_decision(&fleet, &request, StrategyKind::ALL[strategy], 64)?;
    }
}

fn simple_fleet() -> Vec<EndpointSpecT> {
    let mut coder = ModelSpec::new("qwen2.5-coder:7b", "qwen2");
    coder.capabilities = Capabilities::of(&[Capability::Completion, Capability::Tools]);
    coder.context = Some(32_768);
    let small = ModelSpec::new("llama3.2", "llama");
    let mut gpu = EndpointSpecT::new("gpu", vec![coder.clone(), small.clone()]);
    gpu.tags = vec!["gpu".into()];
    let laptop = EndpointSpecT::new("laptop", vec![coder, small]);
    vec![gpu, laptop]
}

#[test]
fn each_filter_is_counted() {
    let now = Instant::now();
    let mut fleet = simple_fleet();
    fleet[1].models[0].breaker_open = true;
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let router = Router::new(RouterConfig::default());

    let tools = Capabilities::of(&[Capability::Tools]);
    let decision =
        router.route(&RouteRequest::any().with_capabilities(tools), &snapshot, now).unwrap();
    assert_eq!(decision.why.considered, 4);
    assert_eq!(decision.why.removed.capabilities, 2);
    assert_eq!(decision.why.removed.breaker, 1);
    assert_eq!(decision.why.eligible, 1);
    assert_eq!(snapshot.instance(decision.chosen.instance).id().endpoint.as_str(), "gpu");
    assert_eq!(
        decision.why.to_string(),
        "1 of 4 instances eligible (missing capability: 2, breaker open: 1); strategy completion_time, category general"
    );

    let big = RouteRequest::any().with_tokens(9_000, Some(500));
    let decision = router.route(&big, &snapshot, now).unwrap();
    assert_eq!(decision.why.removed.context, 2, "the 8k llama cannot take 9.5k");

    let tagged = RouteRequest::for_model(name("llama3.2")).with_tag("gpu");
    let decision = router.route(&tagged, &snapshot, now).unwrap();
    assert_eq!(decision.why.removed.tags, 1);
    let unknown_tag = RouteRequest::any().with_tag("tpu");
    let refused = router.route(&unknown_tag, &snapshot, now).unwrap_err();
    assert_eq!(refused.why.removed.tags, 4);
    assert!(!refused.is_temporary() && !refused.is_unknown_model());
}

#[test]
fn refusals_say_whether_waiting_helps() {
    let now = Instant::now();
    let mut fleet = simple_fleet();
    fleet[0].models[1].cooling = true;
    fleet[1].healthy = false;
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let router = Router::new(RouterConfig::default());

    let refused =
        router.route(&RouteRequest::for_model(name("llama3.2")), &snapshot, now).unwrap_err();
    assert!(refused.is_temporary());
    assert_eq!(refused.why.removed.cooldown, 1);
    assert_eq!(refused.why.removed.unhealthy, 1);
    let error: om_core::Error = refused.into();
    assert_eq!(error.kind(), om_core::ErrorKind::NoBackend);
    assert!(error.to_string().starts_with("no instance can serve the request: 0 of 2"), "{error}");

    let unknown =
        router.route(&RouteRequest::for_model(name("gemma3")), &snapshot, now).unwrap_err();
    assert!(unknown.is_unknown_model());
}

#[test]
fn exclusions_and_endpoint_allow_lists() {
    let now = Instant::now();
    let fleet = simple_fleet();
    let registry = registry(&fleet, Config::default(), now);
    let snapshot = registry.snapshot();
    let router = Router::new(RouterConfig::default());
    let llama = || RouteRequest::for_model(name("llama3.2"));

    let on_gpu = InstanceId::new(EndpointId::new("gpu"), name("llama3.2"));
    let decision = router.route(&llama().excluding(on_gpu), &snapshot, now).unwrap();
    assert_eq!(snapshot.instance(decision.chosen.instance).id().endpoint.as_str(), "laptop");
    assert!(decision.fallbacks.is_empty());

    let decision = router
        .route(&llama().excluding_endpoint(EndpointId::new("laptop")), &snapshot, now)
        .unwrap();
    assert_eq!(snapshot.instance(decision.chosen.instance).id().endpoint.as_str(), "gpu");

    let mut only = llama();
    only.endpoints = vec![EndpointId::new("laptop"), EndpointId::new("nowhere")];
    let decision = router.route(&only, &snapshot, now).unwrap();
    assert_eq!(decision.why.removed.excluded, 1);

    let family = RouteRequest::one_of(vec![ModelMatch::Family("Qwen2".into())]);
    let decision = router.route(&family, &snapshot, now).unwrap();
    assert_eq!(decision.why.considered, 2);
    assert_eq!(snapshot.instance(decision.chosen.instance).id().model, name("qwen2.5-coder:7b"));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_comes_back_half_open_after_its_timeout() {
    let now = Instant::now();
    let mut fleet = simple_fleet();
    fleet[0].models[1].breaker_open = true;
    let registry = registry(&fleet, Config::default(), now);
    let router = Router::new(RouterConfig::default());
    let request = RouteRequest::for_model(name("llama3.2"));
    let snapshot = registry.snapshot();
    assert_eq!(router.route(&request, &snapshot, now).unwrap().why.removed.breaker, 1);
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    let later = Instant::now();
    let decision = router.route(&request, &snapshot, later).unwrap();
    assert_eq!(decision.why.eligible, 2, "open past its timeout: may half-open");
    // Taking both probe slots makes it ineligible again.
    let gpu = snapshot.find_instance(&EndpointId::new("gpu"), &name("llama3.2")).unwrap();
    let probes = [
        snapshot.instance(gpu).begin(later).unwrap(),
        snapshot.instance(gpu).begin(later).unwrap(),
    ];
    assert!(probes.iter().all(om_registry::InFlight::is_probe));
    assert_eq!(router.route(&request, &snapshot, later).unwrap().why.removed.breaker, 1);
}
