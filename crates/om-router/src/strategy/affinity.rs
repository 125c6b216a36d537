//! Learned quality per category and model, with UCB1 exploration.

use om_registry::{Affinity as Record, ModelIdx};

use super::{Candidate, Context, Strategy};

/// How much quality a cost ratio of `e` is worth: a quality gap of
/// `TEMPERATURE × ln 1.5 ≈ 0.1` weighs as much as the default cold penalty.
const TEMPERATURE: f64 = 0.25;

/// The model with the best learned quality for the request's category, with
/// UCB1 exploration (Auer, Cesa-Bianchi and Fischer, 2002):
///
/// `score = mean reward + c·√(ln N / n)`
///
/// where `n` is the model's trials in the category, `N` the category's
/// trials over all models and `c` the configured exploration. A model never
/// tried in the category scores `1 + c·√(ln N + 1)`, above any tried model,
/// so new models get tried; a worse model keeps being tried now and then,
/// less and less often. The
/// cost is `exp(−score / 0.25) × (1 + load) / weight`: a quality gap of about
/// 0.1 weighs as much as the default cold penalty, and instances of one
/// model spread by load and weight. Rewards come from outcomes (see
/// `om_registry::Outcome::reward`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Affinity;

impl Strategy for Affinity {
    fn name(&self) -> &'static str {
        "affinity"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let mut costs = ModelCosts::new(ctx);
        for c in candidates {
            c.cost = costs.cost(c.model) * (1.0 + c.load) / c.weight;
        }
    }
}

/// Each model's quality cost, computed about once per decision: a small
/// direct-mapped cache on the stack, since many candidates share a model
/// and `exp` is the expensive part.
pub(super) struct ModelCosts<'a> {
    ctx: &'a Context<'a>,
    ln_n: f64,
    slots: [(u32, f64); 16],
}

impl<'a> ModelCosts<'a> {
    pub(super) fn new(ctx: &'a Context<'a>) -> Self {
        let ln_n = (ctx.snapshot.category_trials(ctx.category).max(1) as f64).ln();
        Self { ctx, ln_n, slots: [(u32::MAX, 0.0); 16] }
    }

    pub(super) fn cost(&mut self, model: ModelIdx) -> f64 {
        let key = model.index() as u32;
        let slot = &mut self.slots[key as usize % 16];
        if slot.0 != key {
            let record = self.ctx.snapshot.model(model).live.affinity(self.ctx.category);
            *slot = (key, quality_cost(record, self.ln_n, self.ctx.config.exploration));
        }
        slot.1
    }
}

/// `exp(−ucb / TEMPERATURE)`. A model never tried gets a finite score
/// above every tried one (mean at most 1, bonus at most `c·√(ln N)`), so
/// that weights and the cold penalty still order its instances.
pub(super) fn quality_cost(record: Record, ln_n: f64, exploration: f64) -> f64 {
    let exploration = exploration.max(0.0);
    let ucb = match record.mean() {
        None => 1.0 + exploration * (ln_n + 1.0).sqrt(),
        Some(mean) => mean + exploration * (ln_n / record.trials as f64).sqrt(),
    };
    (-ucb / TEMPERATURE).exp()
}
