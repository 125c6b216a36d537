//! Deciding among many candidates without filtering every one: a random
//! sample for cost-based strategies (power of k choices), a weighted draw
//! by rejection sampling, a weighted rotation. [`Sampling`] says what each
//! keeps; here is how.
//!
//! The sample and the draw return `None` when they find fewer eligible
//! candidates than the decision ranks; the router then filters every
//! candidate, so that a sampled decision never misses an eligible instance
//! and a refusal always counts exactly. The rotation filters every
//! candidate itself in that case, to keep its turns. Randomness comes from
//! one seeded splitmix64 per decision.
//!
//! [`Sampling`]: crate::strategy::Sampling

use om_core::rng::SplitMix64;
use om_registry::{FleetModel, InstanceIdx, Snapshot};

use crate::decision::Removed;
use crate::eligibility::{Eligibility, Filtered};
use crate::request::{ModelMatch, ModelSelector};
use crate::router::MAX_RANKED;
use crate::state::State;
use crate::strategy::Candidate;
use crate::strategy::share::{coprime_step, quanta};

/// Eligible candidates a sample holds at least (more when the decision
/// ranks more).
const SAMPLE: usize = 8;
/// Loaded instances of the requested model that a sample always includes,
/// when there are no more than this.
const FEW_LOADED: usize = 4;
/// A request any model may serve samples one instance of each model when
/// the fleet has at most this many models.
const MODEL_SPREAD: usize = 16;
/// Uniform draws allowed per eligible candidate wanted, before sampling
/// gives up (too few eligible instances to find by chance).
const DRAWS_PER_WANTED: usize = 4;
/// Turns of a rotation that may land on ineligible instances in a row.
const MAX_TURNS: usize = 32;
/// Positions of a rotation looked at per turn: weights far apart make
/// turns rare for the light instances, and beyond this every candidate is
/// filtered instead.
const SCAN_LIMIT: u64 = 256;
/// Candidates looked at for the fallbacks after a rotation's turn.
const FALLBACK_SCAN: usize = 64;
/// The most candidates one sampled decision filters.
const MAX_EVALUATED: usize = 128;

// Each way of sampling stays within `MAX_EVALUATED` (and its positions fit
// the pool's `u8`s).
const _: () = {
    assert!(FEW_LOADED + MODEL_SPREAD + DRAWS_PER_WANTED * MAX_RANKED <= MAX_EVALUATED);
    assert!(2 * DRAWS_PER_WANTED * MAX_RANKED <= MAX_EVALUATED);
    assert!(MAX_TURNS + FALLBACK_SCAN <= MAX_EVALUATED);
    assert!(MAX_EVALUATED < u8::MAX as usize);
};

/// A sample for a cost-based strategy to rank: the loaded instances of the
/// requested model (of the fleet, when any model may serve) when there are
/// at most [`FEW_LOADED`], one instance per model when any model may serve
/// and the models are few, then uniform draws until [`SAMPLE`] (or `keep`)
/// candidates are eligible.
///
/// `any` says whether any model may serve; `model` is the one model the
/// request names, if it names one.
pub(crate) fn power_of_k(
    eligibility: &Eligibility<'_>,
    any: bool,
    model: Option<&FleetModel>,
    candidates: &[InstanceIdx],
    keep: usize,
    rng: &mut SplitMix64,
) -> Option<Filtered> {
    let snapshot = eligibility.snapshot();
    let mut pool = Pool::new(eligibility);
    let loaded =
        if any { snapshot.loaded_instances() } else { model.map_or(&[][..], |m| &m.loaded) };
    if loaded.len() <= FEW_LOADED {
        // A uniform sample would likely miss them, and the loaded-model
        // preference needs them ranked.
        for &index in loaded {
            pool.filter(index);
        }
    }
    let models = snapshot.models();
    if any && (2..=MODEL_SPREAD).contains(&models.len()) {
        for model in models {
            pool.filter(model.instances[below(rng, model.instances.len())]);
        }
    }
    let want = keep.max(SAMPLE);
    let mut draws = DRAWS_PER_WANTED * want;
    while pool.eligible.len() < want && draws > 0 {
        draws -= 1;
        pool.filter(candidates[below(rng, candidates.len())]);
    }
    (pool.eligible.len() >= keep).then(|| pool.into_filtered())
}

/// `keep` distinct candidates drawn in proportion to their weight among
/// the eligible ones, by rejection sampling: a uniform candidate is kept
/// with probability `weight / bound`, where `bound` is at least every
/// candidate's weight. Most rejections need only the candidate's endpoint
/// weight, not the filters. The draws' order is the decision's.
pub(crate) fn weighted_draw(
    eligibility: &Eligibility<'_>,
    candidates: &[InstanceIdx],
    bound: f64,
    keep: usize,
    rng: &mut SplitMix64,
) -> Option<Filtered> {
    let snapshot = eligibility.snapshot();
    let mut pool = Pool::new(eligibility);
    let mut order = Vec::with_capacity(keep);
    let mut draws = DRAWS_PER_WANTED * keep.max(SAMPLE) * 2;
    while order.len() < keep && draws > 0 {
        draws -= 1;
        let index = candidates[below(rng, candidates.len())];
        let coin = rng.next_f64() * bound;
        // The endpoint weight bounds the candidate's (cold ones weigh less).
        if coin >= snapshot.facts(index).weight {
            continue;
        }
        let Some(at) = pool.filter(index) else { continue };
        if coin < pool.eligible[at].weight && !order.contains(&at) {
            order.push(at);
        }
    }
    if order.len() < keep {
        return None;
    }
    Some(pool.into_ordered(&order))
}

/// The next turn of a weighted rotation over `candidates`, then the next
/// eligible candidates in candidate order as fallbacks.
///
/// Position `p` of the rotation is slot `p mod n` in pass `p / n`; the
/// slot's candidate is due when its level — `(pass + slot) × step mod Q`,
/// with `Q` the quanta of `bound` and `step` coprime with `Q` — is below
/// its weight in quanta. Over `Q` passes a slot takes every level once, so
/// each candidate is due exactly as many times as its weight in quanta:
/// exact shares over a whole rotation, spread within it. With equal
/// weights every position is due: plain A, B, C order. The selection's
/// cursor lives in [`State`]; a turn costs the positions up to the next
/// due one, `bound ÷ mean weight` on average, and a due position whose
/// candidate is ineligible passes the turn on to the next due one.
///
/// When the next turns land on too many ineligible candidates, or the
/// fallbacks are not among the next few, every candidate is filtered and
/// the rotation goes on among the eligible ones: the turn is the same, only
/// found at linear cost. So this always decides (or refuses, with exact
/// counts).
pub(crate) fn rotation(
    eligibility: &Eligibility<'_>,
    state: &State,
    selection: &ModelSelector,
    candidates: &[InstanceIdx],
    bound: f64,
    keep: usize,
) -> Filtered {
    let snapshot = eligibility.snapshot();
    let n = candidates.len() as u64;
    let passes = quanta(bound);
    let step = coprime_step(passes);
    let cold = eligibility.cold_divisor();
    // Only the static weight decides who is due (an instance's recent use
    // would shift the schedule under the cursor); the filters come after.
    let due = |position: u64| {
        let slot = position % n;
        let turn = ((position / n) % passes + slot % passes) % passes;
        let level = (u128::from(turn) * u128::from(step) % u128::from(passes)) as u64;
        let facts = snapshot.facts(candidates[slot as usize]);
        let weight = if facts.loaded { facts.weight } else { facts.weight / cold };
        level < quanta(weight)
    };
    let mut pool = Pool::new(eligibility);
    let mut turn = None;
    for _ in 0..MAX_TURNS {
        let Some(position) = state.rotate(selection, SCAN_LIMIT, due) else { break };
        let slot = (position % n) as usize;
        if let Some(at) = pool.filter(candidates[slot]) {
            turn = Some((slot, at));
            break;
        }
    }
    let Some((slot, at)) = turn else {
        // Rare turns or few eligible instances: filter every candidate and
        // look for the next turn among the eligible ones. Every candidate
        // is due at least once per rotation of `passes × n` positions.
        let every = eligibility.every(candidates);
        let mut eligible = vec![false; candidates.len()];
        let mut next = every.candidates.iter().map(|c| c.instance).peekable();
        for (slot, index) in candidates.iter().enumerate() {
            // Both lists are in index order.
            if next.next_if_eq(index).is_some() {
                eligible[slot] = true;
            }
        }
        if every.candidates.is_empty() {
            return every;
        }
        // The scan may be long here: it runs outside the lock, at the price
        // of two concurrent callers perhaps taking the same turn.
        let start = state.cursor(selection);
        let whole = start..start.saturating_add(passes.saturating_mul(n));
        let turn = match whole.into_iter().find(|&p| eligible[(p % n) as usize] && due(p)) {
            Some(position) => {
                state.advance(selection, position + 1);
                candidates[(position % n) as usize]
            }
            None => every.candidates[0].instance,
        };
        return from_turn(every, turn, keep);
    };
    let mut order = Vec::with_capacity(keep);
    order.push(at);
    for next in (slot + 1..candidates.len()).chain(0..slot).take(FALLBACK_SCAN) {
        if order.len() >= keep {
            break;
        }
        if let Some(at) = pool.filter(candidates[next])
            && !order.contains(&at)
        {
            order.push(at);
        }
    }
    if order.len() < keep {
        // Few eligible instances near the turn: find them all.
        let turn = pool.eligible[at].instance;
        return from_turn(eligibility.every(candidates), turn, keep);
    }
    pool.into_ordered(&order)
}

/// Every eligible candidate (`every`, in index order) ranked from `turn` —
/// or the first after it, if it has just become ineligible — onwards,
/// wrapping around.
fn from_turn(mut every: Filtered, turn: InstanceIdx, keep: usize) -> Filtered {
    let eligible = &mut every.candidates;
    let start = eligible.partition_point(|c| c.instance < turn);
    let n = eligible.len();
    for (rank, i) in (start..n).chain(0..start).enumerate() {
        eligible[i].cost = if rank < keep { rank as f64 } else { f64::INFINITY };
    }
    every.ordered = true;
    every
}

/// The one model a selection names, if it names exactly one by name.
pub(crate) fn selected_model<'s>(
    selection: &ModelSelector,
    snapshot: &'s Snapshot,
) -> Option<&'s FleetModel> {
    let name = match selection {
        ModelSelector::Model(name) => name,
        ModelSelector::OneOf(list) => match list.as_slice() {
            [ModelMatch::Name(name)] => name,
            _ => return None,
        },
        ModelSelector::Any => return None,
    };
    snapshot.find_model(name).map(|m| snapshot.model(m))
}

/// A uniform index in `0..n` (Lemire's multiply-shift; `n > 0`).
#[inline]
fn below(rng: &mut SplitMix64, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// The candidates a sampled decision has filtered, each once.
struct Pool<'e, 'a> {
    eligibility: &'e Eligibility<'a>,
    /// The instance index of every candidate filtered…
    seen: [u32; MAX_EVALUATED],
    /// …and its position in `eligible` (`u8::MAX` when removed).
    at: [u8; MAX_EVALUATED],
    len: usize,
    eligible: Vec<Candidate>,
    removed: Removed,
}

impl<'e, 'a> Pool<'e, 'a> {
    fn new(eligibility: &'e Eligibility<'a>) -> Self {
        Self {
            eligibility,
            seen: [0; MAX_EVALUATED],
            at: [0; MAX_EVALUATED],
            len: 0,
            eligible: Vec::with_capacity(2 * SAMPLE + MODEL_SPREAD),
            removed: Removed::default(),
        }
    }

    /// Filters `index` unless it was already (then the earlier verdict
    /// stands and is not counted again); its position in `eligible` when
    /// eligible. Past [`MAX_EVALUATED`] candidates, new ones are passed over.
    fn filter(&mut self, index: InstanceIdx) -> Option<usize> {
        let key = index.index() as u32;
        if let Some(i) = self.seen[..self.len].iter().position(|seen| *seen == key) {
            let at = self.at[i];
            return (at != u8::MAX).then_some(usize::from(at));
        }
        if self.len == MAX_EVALUATED {
            return None;
        }
        let at = match self.eligibility.check(index, &mut self.removed) {
            Some(candidate) => {
                self.eligible.push(candidate);
                Some(self.eligible.len() - 1)
            }
            None => None,
        };
        self.seen[self.len] = key;
        self.at[self.len] = at.map_or(u8::MAX, |at| at as u8);
        self.len += 1;
        at
    }

    fn into_filtered(self) -> Filtered {
        Filtered { candidates: self.eligible, removed: self.removed, ordered: false }
    }

    /// The candidates with costs in `order` (0 for the first); the others
    /// filtered rank after them.
    fn into_ordered(mut self, order: &[usize]) -> Filtered {
        for c in &mut self.eligible {
            c.cost = f64::INFINITY;
        }
        for (rank, &at) in order.iter().enumerate() {
            self.eligible[at].cost = rank as f64;
        }
        Filtered { candidates: self.eligible, removed: self.removed, ordered: true }
    }
}
