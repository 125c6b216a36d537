//! Tool calls: when the request names one of the offered functions, the
//! simulated model calls it with arguments built from its schema.

use om_core::wire::{Tool, ToolCall, ToolCallFunction};
use serde_json::{Map, Value};

use super::lorem::WORDS;
use om_core::rng::SplitMix64;

/// The first offered tool whose function name appears in `request` as a
/// whole word, ignoring ASCII case.
pub(super) fn mentioned<'t>(tools: &'t [Tool], request: &str) -> Option<&'t Tool> {
    tools.iter().find(|t| !t.function.name.is_empty() && contains_word(request, &t.function.name))
}

/// True when `word` occurs in `text` (ASCII case ignored) with no word
/// character (alphanumeric or `_`) touching it on either side.
pub(super) fn contains_word(text: &str, word: &str) -> bool {
    // ASCII lower-casing keeps byte offsets, so they index `text` too.
    let hay = text.to_ascii_lowercase();
    let needle = word.to_ascii_lowercase();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    hay.match_indices(&needle).any(|(at, _)| {
        !is_word(text[..at].chars().next_back())
            && !is_word(text[at + needle.len()..].chars().next())
    })
}

/// One call of `tool`: id `call_` + 8 of `[a-z0-9]`, index 0, and an
/// argument for each required parameter.
pub(super) fn call(tool: &Tool, rng: &mut SplitMix64) -> ToolCall {
    const ID_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = (0..8).map(|_| char::from(ID_CHARS[rng.below(ID_CHARS.len())])).collect();
    ToolCall {
        id: Some(format!("call_{id}")),
        function: ToolCallFunction {
            index: Some(0),
            name: tool.function.name.clone(),
            arguments: arguments(&tool.function.parameters, rng),
        },
    }
}

/// An object with a value for each `required` property of a JSON schema.
fn arguments(parameters: &Value, rng: &mut SplitMix64) -> Value {
    let properties = parameters.get("properties").and_then(Value::as_object);
    let required = parameters.get("required").and_then(Value::as_array);
    let mut args = Map::new();
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let schema = properties.and_then(|p| p.get(name));
        args.insert(name.to_owned(), sample(schema, rng));
    }
    Value::Object(args)
}

/// A plausible value for a property schema: its first `enum` value if any,
/// else by `type` (strings a word, numbers 1, booleans true).
fn sample(schema: Option<&Value>, rng: &mut SplitMix64) -> Value {
    let schema = schema.unwrap_or(&Value::Null);
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `["string", "null"]`: the first non-null type.
        Some(Value::Array(kinds)) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("string")
        }
        _ => "string",
    };
    match kind {
        "number" | "integer" => Value::from(1),
        "boolean" => Value::Bool(true),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(Map::new()),
        "null" => Value::Null,
        _ => Value::String((*rng.pick(WORDS)).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, parameters: &Value) -> Tool {
        serde_json::from_value(json!({"type": "function",
            "function": {"name": name, "parameters": parameters}}))
        .unwrap()
    }

    #[test]
    fn word_matching() {
        assert!(contains_word("please call Get_Weather now", "get_weather"));
        assert!(contains_word("get_weather", "get_weather"));
        assert!(contains_word("(get_weather)", "get_weather"));
        assert!(!contains_word("get_weather_now", "get_weather"));
        assert!(!contains_word("forget_weather", "get_weather"));
        assert!(!contains_word("", "x"));
        let tools = [tool("add", &json!({})), tool("get_weather", &json!({}))];
        assert_eq!(
            mentioned(&tools, "weather? use get_weather").unwrap().function.name,
            "get_weather"
        );
        assert!(mentioned(&tools, "address").is_none());
    }

    #[test]
    fn call_shape_and_arguments() {
        let t = tool(
            "book",
            &json!({"type": "object", "required": ["city", "nights", "breakfast", "kind", "note", "tags"],
                "properties": {"city": {"type": "string"}, "nights": {"type": "integer"},
                    "breakfast": {"type": "boolean"}, "kind": {"type": "string", "enum": ["suite", "room"]},
                    "note": {"type": ["null", "string"]}, "tags": {"type": "array"},
                    "optional": {"type": "number"}}}),
        );
        let call = call(&t, &mut SplitMix64::new(3));
        let id = call.id.clone().unwrap();
        assert_eq!(id.len(), 13);
        assert!(id.starts_with("call_"));
        assert!(id[5..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_eq!(call.function.index, Some(0));
        assert_eq!(call.function.name, "book");
        let args = call.function.arguments.as_object().unwrap();
        assert_eq!(args.len(), 6);
        assert!(WORDS.contains(&args["city"].as_str().unwrap()));
        assert_eq!(args["nights"], json!(1));
        assert_eq!(args["breakfast"], json!(true));
        assert_eq!(args["kind"], json!("suite"));
        assert!(args["note"].is_string());
        assert_eq!(args["tags"], json!([]));
    }
}
