//! Task category detection from the prompt: deterministic keywords on word
//! boundaries with a fixed precedence.
//!
//! The text is cut into lower-case words (letters, digits and inner
//! apostrophes; anything else separates, so `unit-test` is two words and
//! `latest` never matches `test`). Scanning left to right, the longest
//! keyword phrase starting at each word is matched and its words consumed,
//! so `error handling` counts as coding and not as the debugging word
//! `error`. The category of the request is the matched category that comes
//! first in this precedence:
//!
//! 1. code review — `review`, `pr`, `pull request`, `lgtm`, …
//! 2. debugging — `bug`, `crash`, `error`, `failing`, `broken`, `why does`, …
//! 3. testing — `test`, `tests`, `coverage`, `pytest`, `mock`, …
//! 4. documentation — `document`, `docs`, `docstring`, `readme`, `comment`, …
//! 5. refactoring — `refactor`, `clean up`, `simplify`, `rename`, `improve`, …
//! 6. coding — `implement`, `write`, `add`, `function`, `script`, …
//! 7. general — nothing matched.
//!
//! Precedence puts the most specific intent first: "improve the tests" is
//! testing (the object is the tests), and "fix the failing test" is
//! **debugging** — a failing test is a symptom, and the work is finding why
//! it fails. `fix` alone is no keyword: "fix the typo in the README" is
//! documentation. Pass the instruction, not attached code: a pasted stack
//! trace or test file would match everything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use om_core::TaskCategory;

/// Keyword phrases per category, in precedence order.
const RULES: &[(TaskCategory, &[&str])] = &[
    (
        TaskCategory::CodeReview,
        &[
            "review",
            "reviews",
            "reviewing",
            "reviewer",
            "code review",
            "pr",
            "prs",
            "pull request",
            "pull requests",
            "merge request",
            "critique",
            "lgtm",
            "diff",
        ],
    ),
    (
        TaskCategory::Debugging,
        &[
            "debug",
            "debugging",
            "bug",
            "bugs",
            "buggy",
            "crash",
            "crashes",
            "crashing",
            "crashed",
            "panic",
            "panics",
            "panicking",
            "segfault",
            "traceback",
            "stack trace",
            "stacktrace",
            "exception",
            "exceptions",
            "error",
            "errors",
            "failing",
            "fails",
            "failed",
            "failure",
            "broken",
            "breaks",
            "why does",
            "why is",
            "why do",
            "doesn't work",
            "does not work",
            "not working",
            "wrong output",
            "regression",
            "hangs",
            "deadlock",
            "leak",
            "leaks",
        ],
    ),
    (
        TaskCategory::Testing,
        &[
            "test",
            "tests",
            "testing",
            "unit test",
            "unit tests",
            "test case",
            "test cases",
            "test suite",
            "coverage",
            "pytest",
            "unittest",
            "assert",
            "assertion",
            "assertions",
            "mock",
            "mocks",
            "mocking",
            "fixture",
            "fixtures",
            "tdd",
            "spec",
            "specs",
            "property test",
            "proptest",
        ],
    ),
    (
        TaskCategory::Documentation,
        &[
            "document",
            "documentation",
            "documented",
            "docs",
            "doc",
            "docstring",
            "docstrings",
            "doc comment",
            "doc comments",
            "comment",
            "comments",
            "readme",
            "changelog",
            "javadoc",
            "rustdoc",
            "jsdoc",
            "annotate",
            "tutorial",
        ],
    ),
    (
        TaskCategory::Refactoring,
        &[
            "refactor",
            "refactoring",
            "clean up",
            "cleanup",
            "simplify",
            "restructure",
            "rename",
            "extract",
            "deduplicate",
            "dedupe",
            "reorganize",
            "reorganise",
            "improve",
            "modernize",
            "modernise",
            "tidy",
            "decouple",
            "split up",
        ],
    ),
    (
        TaskCategory::Coding,
        &[
            "implement",
            "implementation",
            "write",
            "create",
            "add",
            "build",
            "code",
            "function",
            "class",
            "method",
            "script",
            "program",
            "feature",
            "generate",
            "algorithm",
            "api",
            "endpoint",
            "cli",
            "parser",
            "error handling",
            "error message",
            "error messages",
            "port",
            "convert",
        ],
    ),
];

/// First word → phrases starting with it (longest first), with their
/// category. Looked up once per word of every prompt, so hashed with FNV-1a
/// rather than `SipHash`: the keys are our own keywords, not an attacker's.
type PhraseIndex =
    HashMap<&'static str, Vec<(Vec<&'static str>, TaskCategory)>, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64-bit.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

static PHRASES: LazyLock<PhraseIndex> = LazyLock::new(|| {
    let mut index = PhraseIndex::default();
    for (category, phrases) in RULES {
        for phrase in *phrases {
            let words: Vec<&'static str> = phrase.split(' ').collect();
            index.entry(words[0]).or_default().push((words, *category));
        }
    }
    for phrases in index.values_mut() {
        phrases.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
    }
    index
});

/// The category of a prompt (see the module docs for the rules).
///
/// ```
/// use om_core::TaskCategory;
/// use om_router::detect_category;
///
/// assert_eq!(detect_category("improve the tests"), TaskCategory::Testing);
/// assert_eq!(detect_category("fix the failing test"), TaskCategory::Debugging);
/// assert_eq!(detect_category("hello there"), TaskCategory::General);
/// ```
pub fn detect_category(text: &str) -> TaskCategory {
    let words = Words::of(text);
    // Bit i set: the category at precedence i matched.
    let mut matched = 0_u32;
    let mut at = 0;
    while at < words.len() {
        let step = PHRASES
            .get(words.get(at))
            .and_then(|phrases| {
                phrases.iter().find(|(phrase, _)| {
                    phrase.len() <= words.len() - at
                        && phrase.iter().enumerate().all(|(i, p)| *p == words.get(at + i))
                })
            })
            .map_or(1, |(phrase, category)| {
                matched |= 1 << precedence(*category);
                phrase.len()
            });
        at += step;
    }
    match matched.trailing_zeros() {
        32 => TaskCategory::General,
        first => RULES[first as usize].0,
    }
}

fn precedence(category: TaskCategory) -> usize {
    RULES.iter().position(|(c, _)| *c == category).unwrap_or(RULES.len())
}

/// Lower-case words: ASCII letters and digits, with apostrophes kept inside
/// a word (`doesn't`). Non-ASCII letters end a word, which keywords never
/// contain. The words are spans of one buffer: a coding agent's prompt is
/// thousands of words, and a `String` each was most of what routing
/// allocated per request.
struct Words {
    text: String,
    /// Where each word starts and ends in `text`.
    spans: Vec<(usize, usize)>,
}

impl Words {
    fn of(text: &str) -> Self {
        let mut words = Self { text: String::with_capacity(text.len()), spans: Vec::new() };
        let mut start = 0;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let in_word = words.text.len() > start;
            let inner_apostrophe = (c == '\'' || c == '’')
                && in_word
                && chars.peek().is_some_and(char::is_ascii_alphanumeric);
            if c.is_ascii_alphanumeric() {
                words.text.push(c.to_ascii_lowercase());
            } else if inner_apostrophe {
                words.text.push('\'');
            } else if in_word {
                words.spans.push((start, words.text.len()));
                start = words.text.len();
            }
        }
        if words.text.len() > start {
            words.spans.push((start, words.text.len()));
        }
        words
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> &str {
        let (start, end) = self.spans[i];
        &self.text[start..end]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use TaskCategory::{
        CodeReview, Coding, Debugging, Documentation, General, Refactoring, Testing,
    };

    fn check(cases: &[(&str, TaskCategory)]) {
        for (prompt, want) in cases {
            assert_eq!(detect_category(prompt), *want, "{prompt:?}");
        }
    }

    #[test]
    fn ambiguous_prompts_resolve_by_precedence() {
        check(&[
            // Testing beats refactoring: the object is the tests.
            ("improve the tests", Testing),
            // Debugging beats testing: the work is finding why it fails.
            ("fix the failing test", Debugging),
            ("document this function", Documentation),
            ("review this PR", CodeReview),
            ("why does this crash", Debugging),
            ("Why does this crash?", Debugging),
            ("refactor the tests", Testing),
            ("write tests for the login module", Testing),
            ("write a docstring for parse()", Documentation),
            ("review the documentation", CodeReview),
            ("explain why the build is broken", Debugging),
        ]);
    }

    #[test]
    fn one_category_each() {
        check(&[
            ("implement a binary search in Rust", Coding),
            ("add a --verbose flag to the CLI", Coding),
            ("clean up the config module", Refactoring),
            ("rename Foo to Bar everywhere", Refactoring),
            ("update the README", Documentation),
            ("increase coverage of the parser module", Testing),
            ("the server panics on startup", Debugging),
            ("what is the capital of France", General),
            ("", General),
        ]);
    }

    #[test]
    fn words_match_on_boundaries_only() {
        check(&[
            // `latest`, `contest`, `print`, `address`, `product` contain keywords.
            ("print the latest contest results", General),
            ("what is my address", General),
            ("unit-test the parser", Testing),
            ("it doesn't work", Debugging),
            ("it doesn’t work", Debugging),
            ("testing", Testing),
            ("pr #42 needs a look", CodeReview),
        ]);
    }

    #[test]
    fn phrases_consume_their_words() {
        check(&[
            // `error handling` is a coding phrase, not the debugging word `error`.
            ("add error handling to the parser", Coding),
            ("improve error messages", Refactoring),
            ("I get an error when I run it", Debugging),
        ]);
    }

    /// The words one `String` each: what [`Words`] must agree with.
    fn reference_words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let inner_apostrophe = (c == '\'' || c == '’')
                && !current.is_empty()
                && chars.peek().is_some_and(char::is_ascii_alphanumeric);
            if c.is_ascii_alphanumeric() {
                current.push(c.to_ascii_lowercase());
            } else if inner_apostrophe {
                current.push('\'');
            } else if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    proptest! {
        #[test]
        fn words_are_the_lower_case_runs(text in "([a-zA-Z0-9'’ ,.!?\\-]|\\PC){0,120}") {
            let words = Words::of(&text);
            let spans: Vec<&str> = (0..words.len()).map(|i| words.get(i)).collect();
            prop_assert_eq!(spans, reference_words(&text));
        }

        #[test]
        fn detection_is_deterministic_and_case_blind(text in "\\PC{0,80}") {
            let first = detect_category(&text);
            prop_assert_eq!(detect_category(&text), first);
            prop_assert_eq!(detect_category(&text.to_ascii_uppercase()), first);
        }

        #[test]
        fn surrounding_noise_does_not_hide_a_keyword(
            before in "[ ,.!?]{1,3}(hello|please|the){0,1}[ ,.!?]{1,3}",
            after in "[ ,.!?]{1,3}(now|thanks){0,1}",
        ) {
            let text = format!("{before}refactor{after}");
            prop_assert_eq!(detect_category(&text), Refactoring);
        }
    }
}
