//! `cargo xtask tidy`: repository conventions, enforced by ordinary `#[test]`s.
//!
//! The checks live in this module's tests, rust-analyzer style, so plain `cargo test`
//! (and therefore `cargo xtask ci`) enforces them too; `cargo xtask tidy` just runs
//! `cargo test -p xtask`. They read the files with std only and check that:
//!
//! - every `.rs` file under `crates/` and `xtask/` starts with a `//!` doc line;
//! - every workspace member's manifest has `[lints] workspace = true`;
//! - no member manifest writes a dependency version: every dependency uses
//!   `workspace = true`, so versions live in the root `[workspace.dependencies]` only;
//! - no test is marked ignored or should-panic anywhere in the tree;
//! - no placeholder macros (`todo`, `unimplemented`) appear outside tests;
//! - the workspace crates each member depends on (outside dev-dependencies)
//!   are exactly the edges `docs/architecture.md` lists.

use crate::{Result, cargo, run_command};

/// Runs the tidy checks (and the rest of xtask's tests).
pub(crate) fn run() -> Result<()> {
    run_command(&mut cargo(["test", "-p", "xtask"]))
}

#[cfg(test)]
mod tests {
    use std::{
        fs,
        path::{Path, PathBuf},
    };

    use crate::project_root;

    // The patterns are assembled with `concat!` so this file does not trip its own checks.
    const IGNORE_ATTR: &str = concat!("#[", "ignore");
    const SHOULD_PANIC_ATTR: &str = concat!("#[", "should_panic");
    const PLACEHOLDERS: [&str; 2] = [concat!("todo", "!("), concat!("unimplemented", "!(")];

    // === file walking ===

    /// Every `.rs` file under `dir`, skipping `target` and hidden directories.
    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect_rust_files(dir, &mut files);
        files.sort();
        files
    }

    fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    collect_rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
    }

    fn relative(path: &Path) -> String {
        let root = project_root();
        path.strip_prefix(&root).unwrap_or(path).display().to_string()
    }

    fn assert_no_violations(what: &str, violations: &[String]) {
        assert!(violations.is_empty(), "{what}:\n  {}", violations.join("\n  "));
    }

    // === a small TOML reader: enough for Cargo manifests ===

    /// Cuts a `#` comment off a line, ignoring `#` inside strings.
    fn strip_comment(line: &str) -> &str {
        let mut quote = None;
        for (index, ch) in line.char_indices() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), _) if ch == q => quote = None,
                (None, '#') => return &line[..index],
                _ => {}
            }
        }
        line
    }

    /// Splits a dotted key (`target.'cfg(unix)'.dependencies`) into unquoted segments.
    fn split_dotted(key: &str) -> Vec<String> {
        let mut segments = vec![String::new()];
        let mut quote = None;
        for ch in key.chars() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), _) if ch == q => quote = None,
                (None, '.') => segments.push(String::new()),
                (None, c) if c.is_whitespace() => {}
                (_, c) => segments.last_mut().expect("never empty").push(c),
            }
        }
        segments
    }

    /// Net count of open brackets and braces outside strings.
    fn bracket_depth(text: &str) -> i32 {
        let mut depth = 0;
        let mut quote = None;
        for ch in text.chars() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), _) if ch == q => quote = None,
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => depth -= 1,
                _ => {}
            }
        }
        depth
    }

    /// One `key = value` of a manifest, with the full dotted path of its table.
    #[derive(Debug)]
    struct Entry {
        /// Table path followed by the key's own dotted segments.
        path: Vec<String>,
        /// The raw value text, multi-line values joined with spaces.
        value: String,
    }

    /// Reads the `key = value` entries of a manifest. Multi-line arrays and inline tables
    /// are joined; multi-line strings are skipped.
    fn manifest_entries(text: &str) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut table: Vec<String> = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let line = strip_comment(line).trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                let header = line.trim_start_matches('[').trim_end_matches(']');
                table = split_dotted(header);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let mut value = value.trim().to_owned();
            for delimiter in ["\"\"\"", "'''"] {
                if value.starts_with(delimiter)
                    && value[delimiter.len()..].find(delimiter).is_none()
                {
                    for next in lines.by_ref() {
                        if next.contains(delimiter) {
                            break;
                        }
                    }
                }
            }
            while bracket_depth(&value) > 0 {
                let Some(next) = lines.next() else { break };
                value.push(' ');
                value.push_str(strip_comment(next).trim());
            }
            let mut path = table.clone();
            path.extend(split_dotted(key));
            entries.push(Entry { path, value });
        }
        entries
    }

    fn without_whitespace(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// Whether a manifest opts into the workspace lints.
    fn has_workspace_lints(manifest: &str) -> bool {
        manifest_entries(manifest).iter().any(|entry| match entry.path.as_slice() {
            [lints, workspace] => {
                lints == "lints" && workspace == "workspace" && entry.value == "true"
            }
            [lints] => {
                lints == "lints" && without_whitespace(&entry.value).contains("workspace=true")
            }
            _ => false,
        })
    }

    const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

    /// Dependencies of a member manifest that do not use `workspace = true` or that write a
    /// version, as `table.name` strings.
    fn non_workspace_dependencies(manifest: &str) -> Vec<String> {
        // (table, name) -> (uses workspace, writes a version)
        let mut deps: Vec<(String, String, bool, bool)> = Vec::new();
        for entry in manifest_entries(manifest) {
            let Some(kind) =
                entry.path.iter().position(|seg| DEPENDENCY_TABLES.contains(&seg.as_str()))
            else {
                continue;
            };
            // `[workspace.dependencies]` is the one place versions belong.
            if entry.path.first().is_some_and(|seg| seg == "workspace") {
                continue;
            }
            let Some(name) = entry.path.get(kind + 1) else { continue };
            let table = entry.path[..=kind].join(".");
            let rest = &entry.path[kind + 2..];
            let value = without_whitespace(&entry.value);
            let (workspace, version) = match rest {
                [] if value.starts_with('{') => {
                    (value.contains("workspace=true"), value.contains("version="))
                }
                // A bare string is a version requirement.
                [] => (false, true),
                [key] if key == "workspace" => (value == "true", false),
                [key] if key == "version" => (false, true),
                _ => (false, false),
            };
            match deps.iter_mut().find(|(t, n, ..)| *t == table && n == name) {
                Some(dep) => {
                    dep.2 |= workspace;
                    dep.3 |= version;
                }
                None => deps.push((table, name.clone(), workspace, version)),
            }
        }
        deps.into_iter()
            .filter(|(_, _, workspace, version)| !workspace || *version)
            .map(|(table, name, ..)| format!("{table}.{name}"))
            .collect()
    }

    /// The member directories named by the root manifest's `workspace.members`, with `*`
    /// globs expanded one level.
    fn member_dirs() -> Vec<PathBuf> {
        let root = project_root();
        let manifest = read(&root.join("Cargo.toml"));
        let members = manifest_entries(&manifest)
            .into_iter()
            .find(|entry| entry.path == ["workspace", "members"])
            .expect("root Cargo.toml has workspace.members");
        let mut dirs = Vec::new();
        for pattern in members.value.split(['[', ']', ',']) {
            let pattern = pattern.trim().trim_matches('"').trim_matches('\'');
            if pattern.is_empty() {
                continue;
            }
            if let Some(parent) = pattern.strip_suffix("/*") {
                let Ok(entries) = fs::read_dir(root.join(parent)) else { continue };
                for entry in entries.flatten() {
                    if entry.path().join("Cargo.toml").is_file() {
                        dirs.push(entry.path());
                    }
                }
            } else {
                dirs.push(root.join(pattern));
            }
        }
        dirs.sort();
        dirs
    }

    fn member_manifests() -> Vec<PathBuf> {
        let manifests: Vec<PathBuf> =
            member_dirs().into_iter().map(|dir| dir.join("Cargo.toml")).collect();
        assert!(manifests.iter().any(|m| m.ends_with("xtask/Cargo.toml")), "xtask is a member");
        manifests
    }

    /// Every `.rs` file of the tree the conventions apply to.
    fn tree_rust_files() -> Vec<PathBuf> {
        let root = project_root();
        let files = rust_files(&root);
        assert!(files.iter().any(|f| f.ends_with("xtask/src/tidy.rs")), "walk found this file");
        files
    }

    /// Whether a file is test code as a whole: under a `tests` directory or a `tests.rs`.
    fn is_test_file(path: &Path) -> bool {
        let relative = path.strip_prefix(project_root()).unwrap_or(path);
        relative.components().any(|c| c.as_os_str() == "tests")
            || path.file_name().is_some_and(|name| name == "tests.rs")
    }

    /// The workspace crates (`om-*`, `ollama-meta`) a manifest depends on,
    /// dev-dependencies aside.
    fn workspace_edges(manifest: &str) -> std::collections::BTreeSet<String> {
        manifest_entries(manifest)
            .into_iter()
            .filter(|entry| entry.path.first().is_none_or(|seg| seg != "workspace"))
            .filter_map(|entry| {
                let kind = entry
                    .path
                    .iter()
                    .position(|seg| seg == "dependencies" || seg == "build-dependencies")?;
                let name = entry.path.get(kind + 1)?;
                (name.starts_with("om-") || name == "ollama-meta").then(|| name.clone())
            })
            .collect()
    }

    /// The edges `docs/architecture.md` lists after "Current edges:", as
    /// `crate → a, b` items up to the first `(`; `all` for the umbrella.
    fn documented_edges(doc: &str) -> Vec<(String, Vec<String>)> {
        let start = doc.find("Current edges:").expect("docs/architecture.md lists the edges");
        let rest = &doc[start + "Current edges:".len()..];
        let text = rest[..rest.find('(').unwrap_or(rest.len())].replace('\n', " ");
        let mut edges = Vec::new();
        for item in text.split('`').skip(1).step_by(2) {
            let Some((from, to)) = item.split_once('→') else { continue };
            let targets = to.split(',').map(|t| t.trim().to_owned()).collect();
            edges.push((from.trim().to_owned(), targets));
        }
        edges
    }

    // === the checks ===

    #[test]
    fn crate_edges_match_the_architecture_doc() {
        let root = project_root();
        let doc = read(&root.join("docs/architecture.md"));
        let documented = documented_edges(&doc);
        assert!(documented.len() >= 10, "edges parsed from the doc: {documented:?}");
        let mut problems = Vec::new();
        for manifest in member_manifests() {
            let text = read(&manifest);
            let Some(name) = manifest_entries(&text)
                .into_iter()
                .find(|e| e.path == ["package", "name"])
                .map(|e| e.value.trim_matches('"').to_owned())
            else {
                continue;
            };
            let actual = workspace_edges(&text);
            let Some((_, targets)) = documented.iter().find(|(from, _)| *from == name) else {
                if !actual.is_empty() {
                    problems
                        .push(format!("{name} depends on {actual:?} but the doc lists no edges"));
                }
                continue;
            };
            if targets == &["all"] {
                continue;
            }
            let listed: std::collections::BTreeSet<String> = targets.iter().cloned().collect();
            for extra in actual.difference(&listed) {
                problems.push(format!("{name} → {extra} is not in docs/architecture.md"));
            }
            for missing in listed.difference(&actual) {
                problems.push(format!(
                    "docs/architecture.md lists {name} → {missing}, which the manifest lacks"
                ));
            }
        }
        assert_no_violations("crate edges", &problems);
    }

    #[test]
    fn edges_are_read_from_the_doc_and_manifests() {
        let doc = "x Current edges:\n  `a → b, c`,\n  `d → all`. (`e → f` aside)";
        let edges = documented_edges(doc);
        assert_eq!(
            edges,
            [("a".into(), vec!["b".into(), "c".into()]), ("d".into(), vec!["all".into()])]
        );
        let manifest = "[dependencies]\nom-core = { workspace = true }\nserde = \"1\"\n[dev-dependencies]\nom-sim = { workspace = true }\n";
        assert_eq!(workspace_edges(manifest).into_iter().collect::<Vec<_>>(), ["om-core"]);
    }

    #[test]
    fn rust_files_start_with_module_docs() {
        let root = project_root();
        let mut violations = Vec::new();
        for dir in ["crates", "xtask"] {
            for file in rust_files(&root.join(dir)) {
                let text = read(&file);
                if !text.trim_start_matches('\u{feff}').starts_with("//!") {
                    violations.push(relative(&file));
                }
            }
        }
        assert_no_violations("these files must start with a `//!` doc line", &violations);
    }

    #[test]
    fn members_use_workspace_lints() {
        let violations: Vec<String> = member_manifests()
            .iter()
            .filter(|manifest| !has_workspace_lints(&read(manifest)))
            .map(|manifest| relative(manifest))
            .collect();
        assert_no_violations("these manifests need `[lints] workspace = true`", &violations);
    }

    #[test]
    fn members_take_dependency_versions_from_the_workspace() {
        let mut violations = Vec::new();
        for manifest in member_manifests() {
            for dep in non_workspace_dependencies(&read(&manifest)) {
                violations.push(format!("{}: {dep}", relative(&manifest)));
            }
        }
        assert_no_violations(
            "declare these in the root [workspace.dependencies] and use `workspace = true`",
            &violations,
        );
    }

    #[test]
    fn no_ignored_or_should_panic_tests() {
        let mut violations = Vec::new();
        for file in tree_rust_files() {
            for (number, line) in read(&file).lines().enumerate() {
                if line.contains(IGNORE_ATTR) || line.contains(SHOULD_PANIC_ATTR) {
                    violations.push(format!("{}:{}: {}", relative(&file), number + 1, line.trim()));
                }
            }
        }
        assert_no_violations(
            "assert the current behaviour or check for Err/None instead (STYLE.md §3.7)",
            &violations,
        );
    }

    #[test]
    fn no_placeholders_outside_tests() {
        let mut violations = Vec::new();
        for file in tree_rust_files().into_iter().filter(|file| !is_test_file(file)) {
            for (number, line) in read(&file).lines().enumerate() {
                let code = line.trim_start();
                // The unit tests sit at the bottom of a file, after `#[cfg(test)]`.
                if code.starts_with("#[cfg(test)]") {
                    break;
                }
                if !code.starts_with("//") && PLACEHOLDERS.iter().any(|p| code.contains(p)) {
                    violations.push(format!("{}:{}: {}", relative(&file), number + 1, code));
                }
            }
        }
        assert_no_violations("finish these before merging", &violations);
    }

    // === the checks' own tests ===

    #[test]
    fn lints_detection() {
        assert!(has_workspace_lints("[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n"));
        assert!(has_workspace_lints("lints.workspace = true\n"));
        assert!(has_workspace_lints("lints = { workspace = true }\n"));
        assert!(!has_workspace_lints("[lints]\nworkspace = false\n"));
        assert!(!has_workspace_lints("[lints.rust]\nunsafe_code = \"forbid\"\n"));
        assert!(!has_workspace_lints("[package]\nworkspace = true\n"));
    }

    #[test]
    fn dependency_detection() {
        let manifest = r#"
[package]
name = "x" # a comment with = and [brackets]
description = """
multi = "line"
"""

[dependencies]
good = { workspace = true, features = ["a"] }
good-multi = { workspace = true, features = [
    "a",
    "b",
] }
bad-string = "1"
bad-table = { version = "1", features = ["x"] }
bad-path = { path = "../y" }
dotted.workspace = true
dotted.features = ["z"]
dotted-bad.version = "2"

[dev-dependencies.table-good]
workspace = true

[dev-dependencies.table-bad]
version = "3"

[target.'cfg(unix)'.build-dependencies]
cfg-bad = { version = "1", workspace = true }

[workspace.dependencies]
fine-here = "1"
"#;
        assert_eq!(
            non_workspace_dependencies(manifest),
            [
                "dependencies.bad-string",
                "dependencies.bad-table",
                "dependencies.bad-path",
                "dependencies.dotted-bad",
                "dev-dependencies.table-bad",
                "target.cfg(unix).build-dependencies.cfg-bad",
            ]
        );
    }

    #[test]
    fn test_files_are_recognised() {
        let root = project_root();
        assert!(is_test_file(&root.join("crates/a/tests/it/main.rs")));
        assert!(is_test_file(&root.join("crates/a/src/pool/tests.rs")));
        assert!(!is_test_file(&root.join("crates/a/src/lib.rs")));
    }
}
