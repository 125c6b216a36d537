//! The eligibility filters, applied to one candidate at a time, so that an
//! exact decision and a sampled one filter (and count) alike.

use om_core::EndpointId;
use om_registry::{EndpointIdx, InstanceIdx, Snapshot, TagSet, Ticks};

use crate::decision::Removed;
use crate::request::RouteRequest;
use crate::strategy::Candidate;

/// What filtering every candidate, or a sample of them, found.
pub(crate) struct Filtered {
    /// The eligible candidates, among those filtered.
    pub(crate) candidates: Vec<Candidate>,
    /// What the filters removed among the candidates filtered.
    pub(crate) removed: Removed,
    /// The costs are set already (the decision's order); otherwise the
    /// strategy ranks the candidates.
    pub(crate) ordered: bool,
}

/// The request's filters, resolved against one snapshot at one time.
pub(crate) struct Eligibility<'a> {
    snapshot: &'a Snapshot,
    request: &'a RouteRequest,
    filter: Filter,
    ticks: Ticks,
    /// `1 + cold_penalty`: a cold instance's weight is divided by it.
    cold_divisor: f64,
    needed: u64,
}

impl<'a> Eligibility<'a> {
    pub(crate) fn new(
        request: &'a RouteRequest,
        snapshot: &'a Snapshot,
        ticks: Ticks,
        cold_penalty: f64,
    ) -> Self {
        Self {
            snapshot,
            request,
            filter: Filter::new(request, snapshot),
            ticks,
            cold_divisor: 1.0 + cold_penalty.max(0.0),
            needed: request.context_needed(),
        }
    }

    pub(crate) fn snapshot(&self) -> &'a Snapshot {
        self.snapshot
    }

    /// What a cold instance's weight is divided by.
    pub(crate) fn cold_divisor(&self) -> f64 {
        self.cold_divisor
    }

    /// Every candidate through the filters, in order: exact counts.
    pub(crate) fn every(&self, candidates: &[InstanceIdx]) -> Filtered {
        let mut removed = Removed::default();
        let mut eligible: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for &index in candidates {
            if let Some(candidate) = self.check(index, &mut removed) {
                eligible.push(candidate);
            }
        }
        Filtered { candidates: eligible, removed, ordered: false }
    }

    /// The candidate `index` as the strategies see it, or `None` when a
    /// filter removes it; then the first filter it fails is counted in
    /// `removed`.
    #[inline]
    pub(crate) fn check(&self, index: InstanceIdx, removed: &mut Removed) -> Option<Candidate> {
        let facts = self.snapshot.facts(index);
        if self.filter.excludes(index, facts.endpoint) {
            removed.excluded += 1;
            return None;
        }
        if !facts.capabilities.contains(self.request.capabilities) {
            removed.capabilities += 1;
            return None;
        }
        if facts.context_length < self.needed {
            removed.context += 1;
            return None;
        }
        if !self.filter.tags.admits(self.snapshot, facts.endpoint) {
            removed.tags += 1;
            return None;
        }
        if !facts.routable {
            removed.unhealthy += 1;
            return None;
        }
        let live = facts.live.view(self.ticks);
        if !live.admits {
            removed.breaker += 1;
            return None;
        }
        if live.cooling_down {
            removed.cooldown += 1;
            return None;
        }
        let warm = facts.loaded || live.recently_used;
        let capacity = facts.capacity_now().max(1);
        Some(Candidate {
            instance: index,
            model: facts.model,
            weight: if warm { facts.weight } else { facts.weight / self.cold_divisor },
            warm,
            load: f64::from(facts.endpoint_live.in_flight()) / f64::from(capacity),
            capacity,
            live,
            cost: 0.0,
            secondary: 0.0,
            wait: 0.0,
            service: f64::NAN,
        })
    }
}

/// The request's placement constraints, resolved against the snapshot.
struct Filter {
    /// `Some` when the request restricts endpoints.
    only: Option<Vec<EndpointIdx>>,
    excluded_endpoints: Vec<EndpointIdx>,
    excluded_instances: Vec<InstanceIdx>,
    tags: Tags,
}

/// The request's tag requirement.
enum Tags {
    /// None.
    Any,
    /// Every tag of the set.
    All(TagSet),
    /// A tag no endpoint has.
    Impossible,
}

impl Tags {
    fn admits(&self, snapshot: &Snapshot, endpoint: EndpointIdx) -> bool {
        match self {
            Self::Any => true,
            Self::All(tags) => snapshot.endpoint(endpoint).has_tags(tags),
            Self::Impossible => false,
        }
    }
}

impl Filter {
    fn new(request: &RouteRequest, snapshot: &Snapshot) -> Self {
        let endpoints = |ids: &[EndpointId]| -> Vec<EndpointIdx> {
            ids.iter().filter_map(|id| snapshot.find_endpoint(id)).collect()
        };
        Self {
            only: (!request.endpoints.is_empty()).then(|| endpoints(&request.endpoints)),
            excluded_endpoints: endpoints(&request.exclude_endpoints),
            excluded_instances: request
                .exclude_instances
                .iter()
                .filter_map(|i| snapshot.find_instance(&i.endpoint, &i.model))
                .collect(),
            tags: if request.tags.is_empty() {
                Tags::Any
            } else {
                snapshot
                    .tag_set(request.tags.iter().map(String::as_str))
                    .map_or(Tags::Impossible, Tags::All)
            },
        }
    }

    fn excludes(&self, instance: InstanceIdx, endpoint: EndpointIdx) -> bool {
        self.only.as_ref().is_some_and(|only| !only.contains(&endpoint))
            || self.excluded_endpoints.contains(&endpoint)
            || self.excluded_instances.contains(&instance)
    }
}
