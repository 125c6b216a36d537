//! Where each effective setting came from, for `ollama-meta config show`.

use std::fmt;

use figment::Figment;
use figment::value::Value;
use serde::Serialize;

use crate::config::Config;
use crate::extract::source_at;
use crate::path::KeyPath;
use crate::source::Source;
use crate::tree;

/// One leaf of the effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    /// The key (`retry.max_attempts`, `endpoints[0].url`).
    pub path: KeyPath,
    /// The effective value as JSON (`null` for an unset optional value).
    pub value: serde_json::Value,
    /// Where it came from; [`Source::Default`] for built-in and derived
    /// values.
    pub source: Source,
}

/// Every leaf of the effective configuration with its source, ordered by key
/// path. Displays one `key = value  # source` line per setting.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Provenance {
    settings: Vec<Setting>,
}

impl Provenance {
    /// Lists the leaves of `config`, looking each one up in the merged tree
    /// `root` whose tags `figment` resolves. A leaf absent from the tree was
    /// filled in by a serde default, so its source is the default.
    pub(crate) fn collect(config: &Config, figment: &Figment, root: &Value) -> Self {
        let effective = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
        let mut settings = Vec::new();
        walk(&effective, KeyPath::root(), &mut |path, value| {
            let source = if tree::get(root, &path).is_some() {
                source_at(figment, root, &path)
            } else {
                Source::Default
            };
            settings.push(Setting { path, value: value.clone(), source });
        });
        settings.sort_by(|a, b| a.path.cmp(&b.path));
        Self { settings }
    }

    /// The settings, ordered by key path.
    pub fn iter(&self) -> std::slice::Iter<'_, Setting> {
        self.settings.iter()
    }

    /// The setting at `path` (as displayed, e.g. `"retry.max_attempts"`).
    pub fn find(&self, path: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.path.to_string() == path)
    }
}

impl<'a> IntoIterator for &'a Provenance {
    type Item = &'a Setting;
    type IntoIter = std::slice::Iter<'a, Setting>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<(String, &Source)> = self
            .settings
            .iter()
            .map(|s| (format!("{} = {}", s.path, s.value), &s.source))
            .collect();
        let width = lines.iter().map(|(text, _)| text.chars().count()).max().unwrap_or(0);
        for (text, source) in lines {
            writeln!(f, "{text:<width$}  # {source}")?;
        }
        Ok(())
    }
}

/// Calls `visit` for each leaf: scalars, arrays of scalars (a tag list reads
/// best whole) and empty tables. Arrays that hold tables are walked by index.
fn walk(
    value: &serde_json::Value,
    path: KeyPath,
    visit: &mut impl FnMut(KeyPath, &serde_json::Value),
) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                walk(child, path.key(key.clone()), visit);
            }
        }
        serde_json::Value::Array(items) if items.iter().any(serde_json::Value::is_object) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, path.index(i), visit);
            }
        }
        leaf => visit(path, leaf),
    }
}
