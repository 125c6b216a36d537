//! Walking and pruning the merged value tree, and remembering how pruning
//! renumbered arrays so that problems are reported at the positions the user
//! wrote.

use std::collections::HashMap;

use figment::value::{Tag, Value};

use crate::path::{KeyPath, Segment};

/// Turns figment's string path into a [`KeyPath`], reading a numeric part as
/// an index where the tree has an array at that point.
pub(crate) fn key_path(root: &Value, parts: &[String]) -> KeyPath {
    let mut node = Some(root);
    let mut segments = Vec::with_capacity(parts.len());
    for part in parts {
        let index = match node {
            Some(Value::Array(..)) => part.parse::<usize>().ok(),
            _ => None,
        };
        let segment = index.map_or_else(|| Segment::Key(part.clone()), Segment::Index);
        node = node.and_then(|n| child(n, &segment));
        segments.push(segment);
    }
    KeyPath::from_segments(segments)
}

/// The value at `path`, if there is one.
pub(crate) fn get<'a>(root: &'a Value, path: &KeyPath) -> Option<&'a Value> {
    path.segments().iter().try_fold(root, child)
}

/// The tag of the value at `path`, or of its deepest ancestor that exists:
/// a problem with a value that is missing is a problem with the table that
/// lacks it.
pub(crate) fn nearest_tag(root: &Value, path: &KeyPath) -> Tag {
    let mut node = root;
    for segment in path.segments() {
        match child(node, segment) {
            Some(next) => node = next,
            None => break,
        }
    }
    node.tag()
}

fn child<'a>(node: &'a Value, segment: &Segment) -> Option<&'a Value> {
    match (node, segment) {
        (Value::Dict(_, dict), Segment::Key(key)) => dict.get(key),
        (Value::Array(_, items), Segment::Index(i)) => items.get(*i),
        _ => None,
    }
}

fn child_mut<'a>(node: &'a mut Value, segment: &Segment) -> Option<&'a mut Value> {
    match (node, segment) {
        (Value::Dict(_, dict), Segment::Key(key)) => dict.get_mut(key),
        (Value::Array(_, items), Segment::Index(i)) => items.get_mut(*i),
        _ => None,
    }
}

/// What [`remove`] took out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// A key of a table; nothing else moved.
    Key,
    /// An element of an array that had `len` elements; later elements
    /// moved down by one.
    Element { len: usize },
}

/// Removes the value at `path`. `None` when there is nothing there (or the
/// path is the root, which cannot be removed).
pub(crate) fn remove(root: &mut Value, path: &KeyPath) -> Option<Removed> {
    let (last, parents) = path.segments().split_last()?;
    let parent = parents.iter().try_fold(root, child_mut)?;
    match (parent, last) {
        (Value::Dict(_, dict), Segment::Key(key)) => dict.remove(key).map(|_| Removed::Key),
        (Value::Array(_, items), Segment::Index(i)) if *i < items.len() => {
            let len = items.len();
            items.remove(*i);
            Some(Removed::Element { len })
        }
        _ => None,
    }
}

/// For each array that lost elements, the original index of each element
/// still in it. Keys are array paths in original numbering.
#[derive(Debug, Default)]
pub(crate) struct Renumbering {
    arrays: HashMap<KeyPath, Vec<usize>>,
}

impl Renumbering {
    /// The path as the user wrote it, from a path in the pruned tree.
    pub(crate) fn original(&self, current: &KeyPath) -> KeyPath {
        let mut out = KeyPath::root();
        for segment in current.segments() {
            out = match segment {
                Segment::Key(key) => out.key(key.clone()),
                Segment::Index(i) => {
                    let original = self.arrays.get(&out).and_then(|m| m.get(*i)).copied();
                    out.index(original.unwrap_or(*i))
                }
            };
        }
        out
    }

    /// Records that the element at `current` (an array index path) was
    /// removed from an array of `len` elements.
    pub(crate) fn removed(&mut self, current: &KeyPath, len: usize) {
        let Some((Segment::Index(i), parents)) = current.segments().split_last() else {
            return;
        };
        let array = self.original(&KeyPath::from_segments(parents.to_vec()));
        let map = self.arrays.entry(array).or_insert_with(|| (0..len).collect());
        if *i < map.len() {
            map.remove(*i);
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::util::map;

    use super::*;

    fn sample() -> Value {
        let endpoints: Vec<Value> =
            (0..4).map(|i| Value::from(map! { "url" => format!("http://h{i}:1") })).collect();
        Value::from(map! { "endpoints" => Value::from(endpoints) })
    }

    #[test]
    fn numeric_parts_under_arrays_are_indices() {
        let root = sample();
        let path = key_path(&root, &["endpoints".into(), "2".into(), "url".into()]);
        assert_eq!(path.to_string(), "endpoints[2].url");
        assert_eq!(get(&root, &path).and_then(Value::as_str), Some("http://h2:1"));
        let path = key_path(&root, &["models".into(), "7".into()]);
        assert_eq!(path.to_string(), "models.7");
    }

    #[test]
    fn removal_renumbers() {
        let mut root = sample();
        let mut renumbering = Renumbering::default();
        let endpoints = KeyPath::root().key("endpoints");

        let first = endpoints.index(1);
        assert_eq!(remove(&mut root, &first), Some(Removed::Element { len: 4 }));
        renumbering.removed(&first, 4);
        // What was [2] is now [1]; it is reported as [2].
        assert_eq!(
            renumbering.original(&endpoints.index(1).key("url")).to_string(),
            "endpoints[2].url"
        );

        let second = endpoints.index(1);
        assert_eq!(remove(&mut root, &second), Some(Removed::Element { len: 3 }));
        renumbering.removed(&second, 3);
        assert_eq!(renumbering.original(&endpoints.index(1)).to_string(), "endpoints[3]");
        assert_eq!(renumbering.original(&endpoints.index(0)).to_string(), "endpoints[0]");
    }

    #[test]
    fn removes_keys_and_nothing_else() {
        let mut root = sample();
        let url = KeyPath::root().key("endpoints").index(0).key("url");
        assert_eq!(remove(&mut root, &url), Some(Removed::Key));
        assert_eq!(remove(&mut root, &url), None);
        assert_eq!(remove(&mut root, &KeyPath::root()), None);
    }

    #[test]
    fn nearest_tag_falls_back_to_the_parent() {
        let root = sample();
        let entry = KeyPath::root().key("endpoints").index(0);
        let missing = entry.key("weight");
        let parent_tag = get(&root, &entry).map(Value::tag);
        assert_eq!(Some(nearest_tag(&root, &missing)), parent_tag);
    }
}
