//! Endpoint tags interned per snapshot, so that a routing constraint is a
//! bit test rather than string comparisons.

use std::collections::HashMap;

/// A set of tags, interned by one [`Snapshot`](crate::Snapshot). The first
/// 64 distinct tags of a fleet are bits of a mask; any further ones are kept
/// as a sorted list, so any number of tags works and the usual case is one
/// `and`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet {
    mask: u64,
    extra: Box<[u32]>,
}

impl TagSet {
    /// The empty set, which every endpoint contains.
    pub fn empty() -> Self {
        Self::default()
    }

    /// True when the set has no tags.
    pub fn is_empty(&self) -> bool {
        self.mask == 0 && self.extra.is_empty()
    }

    /// True when every tag of `other` is in this set.
    #[inline]
    pub fn contains(&self, other: &Self) -> bool {
        self.mask & other.mask == other.mask
            && other.extra.iter().all(|id| self.extra.binary_search(id).is_ok())
    }

    fn from_ids(ids: impl IntoIterator<Item = u32>) -> Self {
        let mut mask = 0;
        let mut extra = Vec::new();
        for id in ids {
            if id < 64 {
                mask |= 1 << id;
            } else {
                extra.push(id);
            }
        }
        extra.sort_unstable();
        extra.dedup();
        Self { mask, extra: extra.into_boxed_slice() }
    }
}

/// The tag names of one snapshot and their ids.
#[derive(Debug, Default)]
pub(crate) struct TagInterner {
    ids: HashMap<String, u32>,
}

impl TagInterner {
    /// Interns `tags`, giving new names the next ids.
    pub(crate) fn intern<'a>(&mut self, tags: impl IntoIterator<Item = &'a str>) -> TagSet {
        let ids: Vec<u32> = tags
            .into_iter()
            .map(|tag| {
                let next = self.ids.len() as u32;
                *self.ids.entry(tag.to_owned()).or_insert(next)
            })
            .collect();
        TagSet::from_ids(ids)
    }

    /// The set of `tags`, or `None` when one of them is unknown (no endpoint
    /// carries it).
    pub(crate) fn lookup<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<TagSet> {
        let mut ids = Vec::new();
        for tag in tags {
            ids.push(*self.ids.get(tag)?);
        }
        Some(TagSet::from_ids(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_across_the_mask_and_the_overflow_list() {
        let mut interner = TagInterner::default();
        let names: Vec<String> = (0..70).map(|i| format!("t{i}")).collect();
        let all = interner.intern(names.iter().map(String::as_str));
        let some = interner.intern(["t3", "t65"]);
        assert!(all.contains(&some));
        assert!(!some.contains(&all));
        assert!(some.contains(&TagSet::empty()));
        assert_eq!(interner.lookup(["t65", "t3"]), Some(some.clone()));
        assert_eq!(interner.lookup(["t3", "nope"]), None);
        let low = interner.intern(["t3"]);
        assert!(!low.contains(&some));
        assert!(TagSet::empty().is_empty() && !low.is_empty());
    }
}
