//! Plausible filler text: English and code-ish words from a built-in
//! vocabulary, in sentences and paragraphs, plus the short reasoning trace
//! every reply carries.

use super::tokens::count_tokens;
use om_core::rng::SplitMix64;

/// Everyday words of technical prose.
pub(super) const WORDS: &[&str] = &[
    "the",
    "a",
    "this",
    "that",
    "each",
    "every",
    "one",
    "two",
    "first",
    "next",
    "last",
    "then",
    "when",
    "because",
    "so",
    "and",
    "or",
    "but",
    "with",
    "without",
    "from",
    "into",
    "for",
    "in",
    "on",
    "of",
    "to",
    "by",
    "is",
    "are",
    "was",
    "can",
    "should",
    "will",
    "must",
    "may",
    "function",
    "returns",
    "value",
    "values",
    "config",
    "request",
    "response",
    "model",
    "stream",
    "token",
    "buffer",
    "error",
    "handle",
    "client",
    "server",
    "query",
    "index",
    "vector",
    "cache",
    "thread",
    "result",
    "option",
    "struct",
    "field",
    "method",
    "call",
    "parse",
    "build",
    "check",
    "update",
    "simple",
    "fast",
    "safe",
    "small",
    "large",
    "data",
    "file",
    "path",
    "line",
    "loop",
    "state",
    "queue",
    "worker",
    "task",
    "time",
    "input",
    "output",
    "test",
    "case",
    "code",
    "module",
    "type",
    "trait",
    "list",
    "node",
    "graph",
    "edge",
    "score",
    "weight",
    "layer",
    "batch",
    "endpoint",
    "retry",
    "timeout",
    "limit",
    "memory",
    "context",
    "prompt",
    "answer",
    "example",
    "change",
    "version",
    "keeps",
    "reads",
    "writes",
    "sends",
    "stores",
    "computes",
    "maps",
    "filters",
    "sorts",
    "validates",
    "logs",
    "counts",
    "waits",
    "runs",
    "uses",
    "creates",
    "removes",
    "default",
    "empty",
    "new",
    "old",
    "current",
    "shared",
    "local",
    "remote",
    "async",
    "sync",
    "pure",
    "lazy",
    "eager",
    "stable",
    "clear",
    "short",
    "long",
];

/// Code-ish tokens sprinkled into the prose.
const CODE: &[&str] = &[
    "`Vec<u8>`",
    "`Option<T>`",
    "`Result<(), Error>`",
    "`None`",
    "`self`",
    "`len()`",
    "`map()`",
    "`0`",
    "`true`",
    "`async fn`",
    "`&str`",
    "`HashMap`",
    "`config.toml`",
    "`main.rs`",
    "`--verbose`",
    "`x + 1`",
    "`i < n`",
    "`return`",
    "`Arc<Mutex<T>>`",
    "`404`",
];

/// Opening words of the reasoning trace.
const PLANS: &[&str] = &[
    "I should answer directly and keep it short.",
    "A brief explanation with one example should do.",
    "Let me walk through it step by step.",
    "The simplest correct answer is best here.",
    "I will restate the goal and then answer.",
];

/// Filler text of 40 to 160 tokens (as [`count_tokens`] counts them).
pub(super) fn lorem(rng: &mut SplitMix64) -> String {
    // The last word may add a few tokens past the target (a code span is up
    // to ten), so the target stays well below the upper bound.
    let target = 40 + rng.below(100);
    let mut text = String::new();
    let mut sentences_in_paragraph = 0;
    while count_tokens(&text) < target {
        if !text.is_empty() {
            if sentences_in_paragraph >= 3 && rng.below(3) == 0 {
                text.push_str("\n\n");
                sentences_in_paragraph = 0;
            } else {
                text.push(' ');
            }
        }
        push_sentence(&mut text, target, rng);
        sentences_in_paragraph += 1;
    }
    text
}

/// One sentence: a capitalised first word, 5–14 more words, maybe a comma
/// and a code span, and a full stop; cut short once `text` reaches `target`
/// tokens.
fn push_sentence(text: &mut String, target: usize, rng: &mut SplitMix64) {
    let words = 6 + rng.below(10);
    let comma_at = if rng.below(2) == 0 { Some(2 + rng.below(words - 3)) } else { None };
    for i in 0..words {
        if i > 0 && count_tokens(text) >= target {
            break;
        }
        let word = if i > 0 && rng.below(9) == 0 { *rng.pick(CODE) } else { *rng.pick(WORDS) };
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(word);
        }
        if comma_at == Some(i) {
            text.push(',');
        }
    }
    text.push('.');
}

/// The short reasoning trace: what was asked and how the answer is planned.
pub(super) fn thinking(request: &str, tool: Option<&str>, rng: &mut SplitMix64) -> String {
    let mut words = request.split_whitespace();
    let snippet: Vec<&str> = words.by_ref().take(12).collect();
    let mut quoted = snippet.join(" ");
    if words.next().is_some() {
        quoted.push_str(" …");
    }
    let asked = if quoted.is_empty() {
        "There is no question yet.".to_owned()
    } else {
        format!("The user wrote: \"{quoted}\".")
    };
    let plan = match tool {
        Some(name) => format!("This needs the `{name}` tool, so I will call it."),
        None => (*rng.pick(PLANS)).to_owned(),
    };
    format!("{asked} {plan}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lorem_length_is_in_range_and_varies() {
        let mut texts = std::collections::HashSet::new();
        for seed in 0..300 {
            let text = lorem(&mut SplitMix64::new(seed));
            let n = count_tokens(&text);
            assert!((40..=160).contains(&n), "seed {seed}: {n} tokens");
            assert!(text.ends_with('.'));
            texts.insert(text);
        }
        assert_eq!(texts.len(), 300);
    }

    #[test]
    fn thinking_quotes_the_request() {
        let mut rng = SplitMix64::new(1);
        let t = thinking("why is the sky blue?", None, &mut rng);
        assert!(t.starts_with("The user wrote: \"why is the sky blue?\"."), "{t}");
        let t = thinking("weather in Tokyo", Some("get_weather"), &mut rng);
        assert!(t.ends_with("This needs the `get_weather` tool, so I will call it."), "{t}");
        assert!(thinking("", None, &mut rng).starts_with("There is no question yet."));
    }
}
