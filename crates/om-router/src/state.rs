//! The router's own mutable state: its seeded generator and round-robin
//! turns. Shared by every caller through `&Router`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use om_core::rng::{GAMMA, hash_str, mix};
use parking_lot::Mutex;

use crate::request::{ModelMatch, ModelSelector};

/// More selections than this and the turn table starts over; a fleet has far
/// fewer distinct model selections, so this only bounds a pathological
/// caller.
const MAX_SELECTIONS: usize = 4096;

#[derive(Debug)]
pub(crate) struct State {
    /// splitmix64 state, advanced with one atomic add per draw, so
    /// concurrent callers never share a draw and one caller's sequence is
    /// reproducible from the seed.
    rng: AtomicU64,
    turns: Mutex<HashMap<u64, u64>>,
}

impl State {
    pub(crate) fn new(seed: u64) -> Self {
        Self { rng: AtomicU64::new(seed), turns: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn random(&self) -> u64 {
        mix(self.rng.fetch_add(GAMMA, Ordering::Relaxed).wrapping_add(GAMMA))
    }

    pub(crate) fn next_turn(&self, selection: &ModelSelector) -> u64 {
        let key = selection_key(selection);
        let mut turns = self.turns.lock();
        if turns.len() >= MAX_SELECTIONS && !turns.contains_key(&key) {
            turns.clear();
        }
        let turn = turns.entry(key).or_insert(0);
        let current = *turn;
        *turn += 1;
        current
    }
}

/// A stable hash of a model selection.
fn selection_key(selection: &ModelSelector) -> u64 {
    match selection {
        ModelSelector::Any => 0,
        ModelSelector::Model(name) => hash_str(name.as_key()),
        ModelSelector::OneOf(list) => list.iter().fold(1, |acc, m| {
            let h = match m {
                ModelMatch::Name(name) => hash_str(name.as_key()),
                ModelMatch::Family(family) => mix(hash_str(&family.to_ascii_lowercase())),
            };
            mix(acc ^ h)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_turns_count_per_selection() {
        let (a, b) = (State::new(7), State::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.random()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.random()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        let llama = ModelSelector::Model("llama3.2".parse().unwrap());
        let qwen = ModelSelector::Model("qwen2.5".parse().unwrap());
        assert_eq!(a.next_turn(&llama), 0);
        assert_eq!(a.next_turn(&qwen), 0);
        assert_eq!(a.next_turn(&llama), 1);
        let same = ModelSelector::Model("Llama3.2:latest".parse().unwrap());
        assert_eq!(a.next_turn(&same), 2);
    }
}
