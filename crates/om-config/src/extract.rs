//! From the merged value tree to a [`Config`], collecting every problem
//! rather than stopping at the first.
//!
//! serde stops at the first bad value. To report all of them, extraction
//! runs in rounds: each failed round records the problem, removes the
//! offending value from the tree (so its default applies, or the broken
//! array element drops out) and tries again. Once the tree deserialises, the
//! rule checks run on the result. Array renumbering caused by removals is
//! undone when paths are reported, so every path is the one the user wrote.

use std::collections::HashMap;

use figment::Figment;
use figment::error::Kind;
use figment::value::Value;
use om_core::ModelName;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Problem, ProblemKind};
use crate::path::KeyPath;
use crate::source::Source;
use crate::suggest;
use crate::tree::{self, Removed, Renumbering};

/// A guard on the number of rounds; each round removes a value, so a real
/// configuration never comes near it.
const MAX_ROUNDS: usize = 1000;

/// The outcome of extraction: the configuration when the tree could be made
/// to deserialise, and every problem found on the way.
#[derive(Debug)]
pub(crate) struct Extracted {
    pub(crate) config: Option<Config>,
    pub(crate) problems: Vec<Problem>,
}

/// Deserialises `root` (pruning it as problems are found) and checks the
/// rules. `figment` resolves value tags to their sources.
pub(crate) fn extract(figment: &Figment, root: &mut Value) -> Extracted {
    let mut problems = duplicate_models(figment, root);
    let mut renumbering = Renumbering::default();
    for _ in 0..MAX_ROUNDS {
        let error = match Config::deserialize(&*root) {
            Ok(config) => {
                check(figment, root, &renumbering, &config, &mut problems);
                return Extracted { config: Some(config), problems };
            }
            Err(error) => error,
        };
        let current = tree::key_path(root, &error.path);
        let problem = describe(figment, root, &renumbering, &current, &error.kind);
        // A required key "missing" because an earlier round removed its bad
        // value is that same problem again.
        if !problems.iter().any(|p| p.path == problem.path) {
            problems.push(problem);
        }
        // The path is the bad value itself, or for a missing key the table
        // that lacks it; either way removing it lets the next round go on.
        match tree::remove(root, &current) {
            Some(Removed::Element { len }) => renumbering.removed(&current, len),
            Some(Removed::Key) => {}
            // Nothing could be removed (the root itself is wrong): no
            // further round can get past this problem.
            None => return Extracted { config: None, problems },
        }
    }
    Extracted { config: None, problems }
}

/// Turns one serde error at `current` into a problem.
fn describe(
    figment: &Figment,
    root: &Value,
    renumbering: &Renumbering,
    current: &KeyPath,
    kind: &Kind,
) -> Problem {
    let source = source_at(figment, root, current);
    let path = renumbering.original(current);
    match kind {
        Kind::UnknownField(key, known) => {
            let message = match suggest::closest(key, known) {
                Some(close) => format!("unknown key `{key}`; did you mean `{close}`?"),
                None if known.is_empty() => format!("unknown key `{key}`"),
                None => format!("unknown key `{key}`; expected one of {}", list(known)),
            };
            Problem { path, source, message, kind: ProblemKind::UnknownKey }
        }
        Kind::MissingField(key) => Problem {
            path: path.key(key.to_string()),
            source,
            message: "missing required key".to_owned(),
            kind: ProblemKind::MissingKey,
        },
        other => {
            Problem { path, source, message: other.to_string(), kind: ProblemKind::InvalidValue }
        }
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// Runs the rule checks and records what they find. A finding next to a
/// value that already failed to parse (say, "no endpoints" after the only
/// endpoint was dropped for a bad URL) would only repeat that problem, so it
/// is left out.
fn check(
    figment: &Figment,
    root: &Value,
    renumbering: &Renumbering,
    config: &Config,
    problems: &mut Vec<Problem>,
) {
    let reported: Vec<KeyPath> = problems.iter().map(|p| p.path.clone()).collect();
    for finding in config.check() {
        let path = renumbering.original(&finding.path);
        if reported.iter().any(|r| r.starts_with(&path) || path.starts_with(r)) {
            continue;
        }
        problems.push(Problem {
            source: source_at(figment, root, &finding.path),
            path,
            message: finding.message,
            kind: ProblemKind::Constraint,
        });
    }
}

/// Two keys of `models` that name one model (`llama3` and `llama3:latest`)
/// would silently collapse into one map entry; report the later ones.
fn duplicate_models(figment: &Figment, root: &Value) -> Vec<Problem> {
    let models = KeyPath::root().key("models");
    let Some(Value::Dict(_, dict)) = tree::get(root, &models) else {
        return Vec::new();
    };
    let mut first_key: HashMap<ModelName, &str> = HashMap::new();
    let mut problems = Vec::new();
    for key in dict.keys() {
        // Keys that do not parse are reported by extraction.
        let Ok(name) = ModelName::parse(key) else { continue };
        if let Some(first) = first_key.get(&name) {
            let path = models.key(key.clone());
            problems.push(Problem {
                source: source_at(figment, root, &path),
                message: format!(
                    "the same model as {} (Ollama compares names without case, and a \
                     name without a tag means `:latest`)",
                    models.key(*first)
                ),
                path,
                kind: ProblemKind::Constraint,
            });
        } else {
            first_key.insert(name, key);
        }
    }
    problems
}

/// Where the value at `path` (or its nearest existing ancestor) came from.
pub(crate) fn source_at(figment: &Figment, root: &Value, path: &KeyPath) -> Source {
    figment
        .get_metadata(tree::nearest_tag(root, path))
        .map_or(Source::Default, Source::from_metadata)
}

/// A figment error raised while reading a layer (a file that does not
/// parse, a bad `--set` key), as problems. Parser messages that span several
/// lines with a source excerpt are folded into one line.
pub(crate) fn layer_problems(error: figment::Error) -> Vec<Problem> {
    error
        .into_iter()
        .map(|e| {
            let source = e.metadata.as_ref().map_or(Source::Default, Source::from_metadata);
            let kind = if source.is_file() { ProblemKind::File } else { ProblemKind::InvalidValue };
            let path = e.path.iter().fold(KeyPath::root(), |p, k| p.key(k.clone()));
            Problem { path, source, message: one_line(&e.kind.to_string()), kind }
        })
        .collect()
}

/// Drops the excerpt lines (`  |`, `3 | text`) of a parser message and joins
/// the rest with `: `.
fn one_line(message: &str) -> String {
    let is_excerpt = |line: &str| {
        let t = line.trim_start();
        t.starts_with('|')
            || t.split_once(" |").is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
    };
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_excerpt(line))
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_parser_excerpts() {
        let message = "TOML parse error at line 1, column 5\n  |\n1 | a = \n  |     ^\ninvalid string\nexpected `\"`, `'`\n";
        assert_eq!(
            one_line(message),
            "TOML parse error at line 1, column 5: invalid string: expected `\"`, `'`"
        );
        assert_eq!(one_line("plain"), "plain");
    }
}
