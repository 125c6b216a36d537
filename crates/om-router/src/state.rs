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
        self.with_cursor(selection_key(selection), |turn| {
            let current = *turn;
            *turn += 1;
            current
        })
    }

    /// Moves the selection's cursor to the first position from it that
    /// `due` accepts, looking at `limit` positions at most, and returns it;
    /// the cursor ends just past it, or past every position looked at when
    /// none was due. The positions are looked at under the lock, so that
    /// concurrent callers never share one: `due` must be cheap.
    pub(crate) fn rotate(
        &self,
        selection: &ModelSelector,
        limit: u64,
        mut due: impl FnMut(u64) -> bool,
    ) -> Option<u64> {
        self.with_cursor(selection_key(selection), |cursor| {
            let start = *cursor;
            let end = start.saturating_add(limit);
            let found = (start..end).find(|&position| due(position));
            *cursor = found.map_or(end, |position| position + 1);
            found
        })
    }

    /// Where the selection's cursor is.
    pub(crate) fn cursor(&self, selection: &ModelSelector) -> u64 {
        self.with_cursor(selection_key(selection), |cursor| *cursor)
    }

    /// Moves the selection's cursor to `position`, unless it is past it.
    pub(crate) fn advance(&self, selection: &ModelSelector, position: u64) {
        self.with_cursor(selection_key(selection), |cursor| *cursor = position.max(*cursor));
    }

    fn with_cursor<T>(&self, key: u64, f: impl FnOnce(&mut u64) -> T) -> T {
        let mut turns = self.turns.lock();
        if turns.len() >= MAX_SELECTIONS && !turns.contains_key(&key) {
            turns.clear();
        }
        f(turns.entry(key).or_insert(0))
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

    #[test]
    fn rotation_stops_at_the_first_due_position_and_moves_past_it() {
        let state = State::new(1);
        let any = ModelSelector::Any;
        assert_eq!(state.rotate(&any, 10, |p| p % 3 == 2), Some(2));
        assert_eq!(state.rotate(&any, 10, |p| p % 3 == 2), Some(5));
        // Nothing due within the limit: the cursor moves past what was seen.
        assert_eq!(state.rotate(&any, 4, |_| false), None);
        assert_eq!(state.next_turn(&any), 10);
        state.advance(&any, 20);
        state.advance(&any, 15);
        assert_eq!(state.cursor(&any), 20);
    }
}
