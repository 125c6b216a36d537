//! The `[routing]` section: which strategy picks the instance for a task.

use std::collections::BTreeMap;

use om_core::TaskCategory;
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// The strategies `om-router` has built in, by the names files use.
pub const STRATEGIES: [&str; 6] =
    ["round_robin", "least_loaded", "random", "performance", "affinity", "hybrid"];

/// Routing settings.
///
/// ```toml
/// [routing]
/// strategy = "least_loaded"
/// categories = { code_review = "affinity" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// The strategy for every task category without its own (default
    /// `hybrid`): one of [`STRATEGIES`], case and `-` for `_` aside.
    pub strategy: String,
    /// Strategies for particular task categories.
    pub categories: BTreeMap<TaskCategory, String>,
}

impl Default for Routing {
    fn default() -> Self {
        Self { strategy: "hybrid".to_owned(), categories: BTreeMap::new() }
    }
}

impl Routing {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        let known = |name: &str| {
            let name = name.trim().to_ascii_lowercase().replace('-', "_");
            STRATEGIES.contains(&name.as_str())
        };
        let message = |name: &str| {
            format!("unknown strategy {name:?}; expected one of: {}", STRATEGIES.join(", "))
        };
        if !known(&self.strategy) {
            out.push(at.key("strategy"), message(&self.strategy));
        }
        for (category, name) in &self.categories {
            if !known(name) {
                out.push(at.key("categories").key(category.as_str()), message(name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_leniently() {
        let mut routing = Routing { strategy: "Least-Loaded".to_owned(), ..Routing::default() };
        routing.categories.insert(TaskCategory::Coding, "fastest".to_owned());
        let mut out = Findings::default();
        routing.check(&KeyPath::root().key("routing"), &mut out);
        let found: Vec<String> =
            out.into_vec().iter().map(|f| format!("{}: {}", f.path, f.message)).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("routing.categories.coding: unknown strategy \"fastest\""));
    }
}
