//! Deterministic reply generation for a simulated model.
//!
//! [`compose`] turns a conversation into a [`Reply`] (text, a reasoning
//! trace, tool calls) according to a [`ReplyMode`]; the same input and seed
//! always give the same reply. [`split_tokens`] cuts a reply into the pieces
//! streamed one per chunk, [`count_tokens`] counts prompt tokens the same way,
//! and [`embedding`] makes unit-length vectors for `/api/embed`.
//!
//! Modes (parsed with [`str::parse`]):
//!
//! | mode | reply |
//! |---|---|
//! | `lorem` | 40–160 tokens of plausible technical prose, varying by seed and conversation |
//! | `echo` | the last user message, verbatim |
//! | `aider` | an edit in the format Aider asked for (whole file or SEARCH/REPLACE), appending `# edited-by: <model>` to one chat file |
//! | `rules:PATH` | the reply of the first `[[rule]]` in the TOML file whose regex matches the last user message, else its `default`, else lorem |
//!
//! In every mode, when tools are offered and the last user message names one
//! of them as a word, the reply is a single call of that tool with empty text.
//!
//! ```
//! use om_core::wire::{Message, Role};
//! use om_sim::reply::{ReplyInput, ReplyMode, compose};
//!
//! let messages = [Message::new(Role::User, "say this back")];
//! let input = ReplyInput { model: "m", system: None, messages: &messages, tools: &[], seed: 1 };
//! let mode: ReplyMode = "echo".parse()?;
//! assert_eq!(compose(&mode, &input).text, "say this back");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aider;
mod lorem;
mod rules;
mod tokens;
mod tools;

use std::path::Path;
use std::str::FromStr;

use om_core::wire::{Message, Role, Tool, ToolCall};

pub use rules::{ReplyModeError, RuleSet};
pub use tokens::{count_tokens, embedding, split_tokens};

use om_core::rng::{FNV_OFFSET, SplitMix64, fnv1a};

/// How a simulated model answers.
#[derive(Debug, Clone)]
pub enum ReplyMode {
    /// Plausible filler text.
    Lorem,
    /// The last user message, verbatim.
    Echo,
    /// Edits in Aider's formats.
    Aider,
    /// Scripted replies from a rules file.
    Rules(RuleSet),
}

impl FromStr for ReplyMode {
    type Err = ReplyModeError;

    /// `lorem`, `echo`, `aider` or `rules:PATH` (which reads the file).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lorem" => Ok(Self::Lorem),
            "echo" => Ok(Self::Echo),
            "aider" => Ok(Self::Aider),
            _ => match s.strip_prefix("rules:") {
                Some(path) => Ok(Self::Rules(RuleSet::load(Path::new(path))?)),
                None => Err(ReplyModeError::UnknownMode(s.to_owned())),
            },
        }
    }
}

/// What a reply is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ReplyInput<'a> {
    /// The model name as requested (Aider's marker line names it).
    pub model: &'a str,
    /// A system prompt given outside the messages (`/api/generate`'s `system`).
    pub system: Option<&'a str>,
    /// The conversation; for `/api/generate`, the prompt as one user message.
    pub messages: &'a [Message],
    /// The tools offered.
    pub tools: &'a [Tool],
    /// The request's seed (`options.seed`), or any fixed number.
    pub seed: u64,
}

/// A composed reply. The caller decides whether to emit `thinking`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The answer text (empty when the reply is a tool call).
    pub text: String,
    /// A short reasoning trace, always filled.
    pub thinking: String,
    /// At most one call, when the request names an offered tool.
    pub tool_calls: Vec<ToolCall>,
}

/// The reply of a model in `mode` to `input`: deterministic for the same
/// input and seed.
pub fn compose(mode: &ReplyMode, input: &ReplyInput<'_>) -> Reply {
    let request = last_user_text(input.messages);
    let mut rng = SplitMix64::new(input.seed ^ conversation_hash(input));
    // A model that has just been given a tool's result answers it rather
    // than calling again: an agent loop (Claude Code, Codex) then ends.
    let answers_a_result = input.messages.last().is_some_and(|m| m.role == Role::Tool);
    if let Some(tool) = tools::mentioned(input.tools, request).filter(|_| !answers_a_result) {
        let thinking = lorem::thinking(request, Some(&tool.function.name), &mut rng);
        return Reply {
            text: String::new(),
            thinking,
            tool_calls: vec![tools::call(tool, &mut rng)],
        };
    }
    let thinking = lorem::thinking(request, None, &mut rng);
    let text = match mode {
        ReplyMode::Lorem => lorem::lorem(&mut rng),
        ReplyMode::Echo => request.to_owned(),
        ReplyMode::Aider => aider::reply(input, request),
        ReplyMode::Rules(rules) => match rules.reply_for(request) {
            Some(reply) => reply.to_owned(),
            None => lorem::lorem(&mut rng),
        },
    };
    Reply { text, thinking, tool_calls: Vec::new() }
}

/// The content of the last user message, or `""`.
fn last_user_text(messages: &[Message]) -> &str {
    messages.iter().rev().find(|m| m.role == Role::User).map_or("", |m| m.content.as_str())
}

/// A stable hash of everything that makes a conversation distinct.
fn conversation_hash(input: &ReplyInput<'_>) -> u64 {
    // Each field is followed by a separator byte so that moving text from one
    // field to the next changes the hash.
    let field = |h: u64, text: &str| fnv1a(fnv1a(h, text.as_bytes()), &[0xff]);
    let mut h = field(FNV_OFFSET, input.model);
    h = field(h, input.system.unwrap_or_default());
    for m in input.messages {
        h = field(h, m.role.as_str());
        h = field(h, &m.content);
        for image in m.images.iter().flatten() {
            h = field(h, image);
        }
    }
    for tool in input.tools {
        h = field(h, &tool.function.name);
    }
    h
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde_json::json;

    use super::*;

    fn input<'a>(messages: &'a [Message], tools: &'a [Tool], seed: u64) -> ReplyInput<'a> {
        ReplyInput { model: "sim-llm", system: None, messages, tools, seed }
    }

    #[test]
    fn modes_parse() {
        assert!(matches!("lorem".parse::<ReplyMode>().unwrap(), ReplyMode::Lorem));
        assert!(matches!("echo".parse::<ReplyMode>().unwrap(), ReplyMode::Echo));
        assert!(matches!("aider".parse::<ReplyMode>().unwrap(), ReplyMode::Aider));
        let err = "poetry".parse::<ReplyMode>().unwrap_err();
        assert!(err.is_unknown_mode());
        assert_eq!(
            err.to_string(),
            "unknown reply mode \"poetry\" (expected \"lorem\", \"echo\", \"aider\" or \"rules:PATH\")"
        );
        let err = "rules:/nonexistent/r.toml".parse::<ReplyMode>().unwrap_err();
        assert!(err.is_io());
    }

    #[test]
    fn rules_mode_reads_the_file() {
        let mut file = tempfile_in_target("rules_mode_reads_the_file.toml");
        file.1.write_all(b"[[rule]]\npattern = \"(?i)^hello\"\nreply = \"Hi there!\"\n").unwrap();
        let mode: ReplyMode = format!("rules:{}", file.0.display()).parse().unwrap();
        let hello = [Message::new(Role::User, "Hello, model")];
        assert_eq!(compose(&mode, &input(&hello, &[], 0)).text, "Hi there!");
        // No match and no default: filler text.
        let other = [Message::new(Role::User, "something else")];
        assert!(!compose(&mode, &input(&other, &[], 0)).text.is_empty());
        std::fs::remove_file(&file.0).unwrap();
    }

    /// A scratch file under the system temp dir, unique per test name.
    fn tempfile_in_target(name: &str) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("om-sim-reply-{}-{name}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        (path, file)
    }

    #[test]
    fn echo_returns_the_last_user_message() {
        let messages = [
            Message::new(Role::System, "be terse"),
            Message::new(Role::User, "first"),
            Message::new(Role::Assistant, "ok"),
            Message::new(Role::User, "  second\nline  "),
        ];
        let reply = compose(&ReplyMode::Echo, &input(&messages, &[], 9));
        assert_eq!(reply.text, "  second\nline  ");
        assert!(reply.tool_calls.is_empty());
        assert!(reply.thinking.contains("second line"), "{}", reply.thinking);
        assert_eq!(compose(&ReplyMode::Echo, &input(&[], &[], 9)).text, "");
    }

    #[test]
    fn lorem_is_deterministic_and_varies() {
        let messages = [Message::new(Role::User, "tell me about queues")];
        let a = compose(&ReplyMode::Lorem, &input(&messages, &[], 1));
        assert_eq!(a, compose(&ReplyMode::Lorem, &input(&messages, &[], 1)));
        assert!(!a.thinking.is_empty());
        assert!((40..=160).contains(&count_tokens(&a.text)));
        assert_ne!(a.text, compose(&ReplyMode::Lorem, &input(&messages, &[], 2)).text);
        let other = [Message::new(Role::User, "tell me about stacks")];
        assert_ne!(a.text, compose(&ReplyMode::Lorem, &input(&other, &[], 1)).text);
        let mut renamed = input(&messages, &[], 1);
        renamed.model = "other-model";
        assert_ne!(a.text, compose(&ReplyMode::Lorem, &renamed).text);
    }

    #[test]
    fn named_tool_is_called() {
        let tools: Vec<Tool> = serde_json::from_value(json!([
            {"type": "function", "function": {"name": "get_time", "parameters": {}}},
            {"type": "function", "function": {"name": "get_weather", "parameters": {
                "type": "object", "required": ["city"],
                "properties": {"city": {"type": "string"}}}}}
        ]))
        .unwrap();
        let messages = [Message::new(Role::User, "What's it like in Tokyo? Use GET_WEATHER.")];
        for mode in [ReplyMode::Lorem, ReplyMode::Echo, ReplyMode::Aider] {
            let reply = compose(&mode, &input(&messages, &tools, 4));
            assert_eq!(reply.text, "");
            assert_eq!(reply.tool_calls.len(), 1);
            let call = &reply.tool_calls[0];
            assert_eq!(call.function.name, "get_weather");
            assert_eq!(call.function.index, Some(0));
            assert!(call.function.arguments["city"].is_string());
            assert!(reply.thinking.contains("get_weather"));
            assert_eq!(reply, compose(&mode, &input(&messages, &tools, 4)), "deterministic");
        }
        let no_mention = [Message::new(Role::User, "what's the weather?")];
        assert!(compose(&ReplyMode::Lorem, &input(&no_mention, &tools, 4)).tool_calls.is_empty());
        let no_tools = compose(&ReplyMode::Echo, &input(&messages, &[], 4));
        assert_eq!(no_tools.text, messages[0].content);
        // Given the call's result, the model answers it instead of calling again.
        let answered = [
            messages[0].clone(),
            Message { tool_calls: Some(reply_calls(&tools)), ..Message::new(Role::Assistant, "") },
            Message::new(Role::Tool, "sunny"),
        ];
        let reply = compose(&ReplyMode::Lorem, &input(&answered, &tools, 4));
        assert!(reply.tool_calls.is_empty() && !reply.text.is_empty(), "{reply:?}");
    }

    fn reply_calls(tools: &[Tool]) -> Vec<ToolCall> {
        let messages = [Message::new(Role::User, "Use get_weather.")];
        compose(&ReplyMode::Lorem, &input(&messages, tools, 4)).tool_calls
    }
}
