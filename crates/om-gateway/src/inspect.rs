//! A look into a native request body for what routing needs — the model,
//! whether the answer streams, the capabilities it asks for, the prompt
//! size and a sample for the category — without copying its texts or
//! touching what it does not need (images stay unparsed). The body itself
//! is forwarded untouched.

use std::borrow::Cow;
use std::fmt;

use om_core::wire::Think;
use om_core::{Capabilities, Capability, Error};
use om_orchestrator::Operation;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};

/// How much of the prompt is kept for category detection.
const SAMPLE_BYTES: usize = 2048;

/// What routing needs to know about a native request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspected {
    /// The model as requested (`model`, or the legacy `name`).
    pub(crate) model: String,
    /// The answer streams (`stream` defaults to true for generate and chat).
    pub(crate) stream: bool,
    /// `tools` → tools, `think` → thinking, images → vision, `suffix` →
    /// insert.
    pub(crate) capabilities: Capabilities,
    /// One token per four characters of every text.
    pub(crate) prompt_tokens: u64,
    /// `options.num_predict`, when non-negative.
    pub(crate) num_predict: Option<u64>,
    /// The start of the last user message (or of the prompt).
    pub(crate) sample: String,
}

/// Reads `body` as a request for `operation`.
///
/// # Errors
///
/// Ollama's answers to a body it cannot bind: 400 `missing request body`,
/// 400 with the decoder's message, 400 `model is required` (404 `model ''
/// not found` for generate, as Ollama answers), 400 for an invalid `think`.
pub(crate) fn inspect(operation: Operation, body: &[u8]) -> Result<Inspected, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::from_status(400, "missing request body"));
    }
    let peek: Peek<'_> =
        serde_json::from_slice(body).map_err(|e| Error::from_status(400, e.to_string()))?;
    let model = peek.model.or(peek.name).map(Cow::into_owned).unwrap_or_default();
    if model.is_empty() {
        return Err(match operation {
            Operation::Generate => Error::from_status(404, "model '' not found"),
            _ => Error::from_status(400, "model is required"),
        });
    }
    let mut capabilities = Vec::new();
    if peek.tools.is_some_and(|t| t.0 > 0) {
        capabilities.push(Capability::Tools);
    }
    if peek.think.is_some_and(Think::is_enabled) {
        capabilities.push(Capability::Thinking);
    }
    let messages = peek.messages.unwrap_or_default();
    if peek.images.is_some_and(|i| i.0 > 0) || messages.iter().any(|m| m.images.0 > 0) {
        capabilities.push(Capability::Vision);
    }
    if peek.suffix.as_ref().is_some_and(|s| s.chars > 0) {
        capabilities.push(Capability::Insert);
    }

    let mut chars = 0_u64;
    let mut sample = String::new();
    for text in [&peek.prompt, &peek.system, &peek.suffix].into_iter().flatten() {
        chars += text.chars;
    }
    if let Some(prompt) = peek.prompt {
        sample = prompt.head;
    }
    for message in messages {
        let Some(content) = message.content else { continue };
        chars += content.chars;
        if message.role.as_deref().is_none_or(|r| r.eq_ignore_ascii_case("user")) {
            sample = content.head;
        }
    }
    match peek.input {
        Some(Input::One(text)) => chars += text.chars,
        Some(Input::Many(texts)) => chars += texts.iter().map(|t| t.chars).sum::<u64>(),
        None => {}
    }
    let num_predict = peek
        .options
        .and_then(|o| o.num_predict)
        .and_then(|n| n.as_i64())
        .and_then(|n| u64::try_from(n).ok());
    Ok(Inspected {
        model,
        stream: operation.ends_with_done() && peek.stream.unwrap_or(true),
        capabilities: Capabilities::of(&capabilities),
        prompt_tokens: chars.div_ceil(4),
        num_predict,
        sample,
    })
}

/// The fields of any native request that matter here; the rest is skipped.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Count>,
    #[serde(default)]
    think: Option<Think>,
    #[serde(default)]
    images: Option<Count>,
    #[serde(default)]
    suffix: Option<Text>,
    #[serde(default)]
    prompt: Option<Text>,
    #[serde(default)]
    system: Option<Text>,
    #[serde(default, borrow)]
    messages: Option<Vec<PeekMessage<'a>>>,
    #[serde(default)]
    input: Option<Input>,
    #[serde(default)]
    options: Option<PeekOptions>,
}

#[derive(Deserialize)]
struct PeekMessage<'a> {
    #[serde(default, borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(default)]
    content: Option<Text>,
    #[serde(default)]
    images: Count,
}

#[derive(Deserialize)]
struct PeekOptions {
    #[serde(default)]
    num_predict: Option<serde_json::Number>,
}

/// `input` of `/api/embed`: one text or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(Text),
    Many(Vec<Text>),
}

/// A string, seen but not kept: its length in characters and its start.
#[derive(Default)]
struct Text {
    chars: u64,
    head: String,
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                let cut = v.floor_char_boundary(SAMPLE_BYTES);
                Ok(Text { chars: v.chars().count() as u64, head: v[..cut].to_owned() })
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// An array, counted but not kept (`null` counts as empty).
#[derive(Default)]
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &serde_json::Value) -> Result<Inspected, Error> {
        inspect(Operation::Chat, body.to_string().as_bytes())
    }

    #[test]
    fn a_chat_request() {
        let inspected = chat(&serde_json::json!({
            "model": "qwen3:8b",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "write unit tests", "images": ["aGk="]},
                {"role": "assistant", "content": "ok", "tool_calls": [{"function": {"name": "f"}}]},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "think": "high",
            "options": {"num_predict": 100, "temperature": 0.1},
            "format": {"type": "object"},
            "keep_alive": "5m",
        }))
        .unwrap();
        assert_eq!(inspected.model, "qwen3:8b");
        assert!(inspected.stream);
        let caps = Capabilities::of(&[Capability::Tools, Capability::Thinking, Capability::Vision]);
        assert_eq!(inspected.capabilities, caps);
        assert_eq!(inspected.prompt_tokens, (8_u64 + 16 + 2).div_ceil(4));
        assert_eq!(inspected.num_predict, Some(100));
        assert_eq!(inspected.sample, "write unit tests");
    }

    #[test]
    fn defaults_and_what_is_not_a_requirement() {
        let inspected = chat(&serde_json::json!({
            "model": "llama3.2", "messages": [], "stream": false, "tools": [], "think": false,
            "options": {"num_predict": -1},
        }))
        .unwrap();
        assert!(!inspected.stream);
        assert_eq!(inspected.capabilities, Capabilities::NONE);
        assert_eq!(inspected.num_predict, None);
        let body = br#"{"model":"m","prompt":"x","suffix":"y","images":null,"raw":true}"#;
        let generate = inspect(Operation::Generate, body).unwrap();
        assert_eq!(generate.capabilities, Capabilities::of(&[Capability::Insert]));
        assert_eq!(generate.sample, "x");
        let embed = inspect(Operation::Embed, br#"{"model":"e","input":["abcd","efgh"]}"#).unwrap();
        assert!(!embed.stream);
        assert_eq!(embed.prompt_tokens, 2);
        let show = inspect(Operation::Show, br#"{"name":"llama3.2"}"#).unwrap();
        assert_eq!(show.model, "llama3.2");
    }

    #[test]
    fn ollamas_refusals() {
        let status = |op, body: &[u8]| inspect(op, body).unwrap_err().http_status();
        assert_eq!(inspect(Operation::Chat, b" ").unwrap_err().message(), "missing request body");
        assert_eq!(status(Operation::Chat, b"{"), 400);
        assert_eq!(status(Operation::Chat, br#"{"messages":[]}"#), 400);
        assert_eq!(
            inspect(Operation::Generate, br#"{"prompt":"x"}"#).unwrap_err().message(),
            "model '' not found"
        );
        assert_eq!(status(Operation::Generate, br#"{"model":""}"#), 404);
        assert_eq!(status(Operation::Chat, br#"{"model":"m","think":"x"}"#), 400);
    }

    /// Any JSON value, a few levels deep.
    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An object with some of a request's fields, each any value.
    fn request() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        const FIELDS: [&str; 12] = [
            "model", "name", "stream", "messages", "prompt", "tools", "think", "images", "suffix",
            "options", "input", "system",
        ];
        proptest::collection::vec((proptest::sample::select(&FIELDS[..]), value()), 0..8).prop_map(
            |fields| {
                serde_json::Value::Object(
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            },
        )
    }

    proptest::proptest! {
        #[test]
        fn fuzz_inspect_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = inspect(Operation::Chat, &body);
            let _ = inspect(Operation::Embed, &body);
        }

        /// Request-shaped JSON with values of any type where the fields
        /// go: refused (a 4xx) or read with a model, never a panic.
        #[test]
        fn fuzz_inspect_json(body in request()) {
            for operation in [Operation::Generate, Operation::Chat, Operation::Embed, Operation::Show] {
                match inspect(operation, body.to_string().as_bytes()) {
                    Ok(inspected) => proptest::prop_assert!(!inspected.model.is_empty()),
                    Err(error) => proptest::prop_assert!((400..500).contains(&error.http_status())),
                }
            }
        }

        #[test]
        fn every_text_counts_and_the_last_user_message_is_the_sample(
            texts in proptest::collection::vec(".{0,40}", 1..6),
            system in ".{0,40}",
        ) {
            let mut messages = vec![serde_json::json!({"role": "system", "content": system})];
            messages.extend(texts.iter().map(|t| serde_json::json!({"role": "user", "content": t})));
            let inspected = chat(&serde_json::json!({"model": "m", "messages": messages})).unwrap();
            let chars: usize = texts.iter().chain([&system]).map(|t| t.chars().count()).sum();
            proptest::prop_assert_eq!(inspected.prompt_tokens, (chars as u64).div_ceil(4));
            proptest::prop_assert_eq!(&inspected.sample, texts.last().unwrap());
        }
    }

    #[test]
    fn long_texts_are_sampled_on_a_character_boundary() {
        let text = "é".repeat(SAMPLE_BYTES);
        let inspected = chat(&serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": text}],
        }))
        .unwrap();
        assert!(inspected.sample.len() <= SAMPLE_BYTES && !inspected.sample.is_empty());
        assert_eq!(inspected.prompt_tokens, (SAMPLE_BYTES as u64).div_ceil(4));
    }
}
