//! Types shared by several endpoints: messages, tools, options, keep-alive,
//! think, format, metrics and the error body.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::duration::{GoDuration, ParseDurationError};

/// A chat role. Ollama lower-cases roles, so parsing ignores case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions.
    System,
    /// The person.
    #[default]
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.to_ascii_lowercase().as_str() {
            "system" => Ok(Self::System),
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "tool" => Ok(Self::Tool),
            _ => Err(serde::de::Error::custom(format!("invalid role {text:?}"))),
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// The text; always serialised, possibly empty.
    #[serde(default)]
    pub content: String,
    /// Reasoning trace, for thinking models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Base64 images (no `data:` prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// Tool calls the assistant made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// On `role: tool` results: which tool answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// On `role: tool` results: the id of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with `role` and `content` and nothing else.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), ..Self::default() }
    }
}

/// A tool call, as the model makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// `call_` plus 8 characters on new servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function called.
    pub function: ToolCallFunction,
}

/// The function part of a [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallFunction {
    /// Position among the calls of one message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The function name.
    pub name: String,
    /// Arguments as a JSON object (not a string as on the `/v1` API).
    #[serde(default, alias = "parameters")]
    pub arguments: Value,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function's description.
    pub function: ToolFunction,
}

fn function_type() -> String {
    "function".to_owned()
}

/// The function part of a [`Tool`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolFunction {
    /// The function name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema of the parameters.
    #[serde(default)]
    pub parameters: Value,
}

/// Model options (`num_ctx`, `temperature`, …): kept as a JSON map so that
/// unknown keys pass through unchanged, with typed accessors for the keys the
/// stack reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Options(pub Map<String, Value>);

/// Options whose change forces a model reload (`needsReload` in Ollama).
pub const LOAD_TIME_OPTIONS: [&str; 7] =
    ["num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "draft_num_predict"];

impl Options {
    fn int(&self, key: &str) -> Option<i64> {
        let v = self.0.get(key)?;
        // Go decodes JSON numbers into float64 first, so 8.0 is a valid int.
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }

    /// `num_predict`: the most tokens to generate; negative means unbounded.
    pub fn num_predict(&self) -> Option<i64> {
        self.int("num_predict")
    }

    /// `num_ctx`: the context window to load the model with.
    pub fn num_ctx(&self) -> Option<u64> {
        self.int("num_ctx").and_then(|n| u64::try_from(n).ok())
    }

    /// `seed`.
    pub fn seed(&self) -> Option<i64> {
        self.int("seed")
    }

    /// `temperature`.
    pub fn temperature(&self) -> Option<f64> {
        self.0.get("temperature")?.as_f64()
    }

    /// `stop` strings (a string or an array of strings).
    pub fn stop(&self) -> Vec<String> {
        match self.0.get("stop") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Sets `key` to `value`, returning the options for chaining.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// The load-time options present, in a fixed order: two requests with
    /// different signatures need different loaded runners.
    pub fn load_signature(&self) -> Vec<(&'static str, Value)> {
        LOAD_TIME_OPTIONS.iter().filter_map(|k| self.0.get(*k).map(|v| (*k, v.clone()))).collect()
    }

    /// True when no option is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `keep_alive`: a number of seconds or a Go duration string, kept as sent so
/// that it is forwarded unchanged; [`KeepAlive::resolve`] interprets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeepAlive {
    /// Seconds (fractions allowed; negative means forever).
    Seconds(f64),
    /// Go duration syntax (`"5m"`, `"-1m"`).
    Text(String),
}

/// A `keep_alive` value that Ollama would refuse with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct KeepAliveError(#[from] ParseDurationError);

impl KeepAlive {
    /// The idle duration: `Ok(None)` means forever (negative values),
    /// `Ok(Some(ZERO))` means unload right after the request.
    pub fn resolve(&self) -> Result<Option<Duration>, KeepAliveError> {
        let d = match self {
            Self::Seconds(s) if s.is_finite() => GoDuration::from_nanos((s * 1e9).round() as i128),
            Self::Seconds(s) => {
                return Err(ParseDurationError::Invalid(s.to_string()).into());
            }
            Self::Text(text) => GoDuration::parse(text)?,
        };
        Ok(d.to_std())
    }
}

impl From<Duration> for KeepAlive {
    fn from(d: Duration) -> Self {
        Self::Text(GoDuration::from(d).to_string())
    }
}

/// A reasoning effort level for `think`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThinkLevel {
    /// `"low"`.
    Low,
    /// `"medium"`.
    Medium,
    /// `"high"`.
    High,
    /// `"max"`.
    Max,
}

/// `think`: a boolean or a level. Other strings are refused at parse time with
/// Ollama's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Think {
    /// On or off.
    Enabled(bool),
    /// On, at this effort.
    Level(ThinkLevel),
}

impl Think {
    /// True unless `think` is `false`.
    pub fn is_enabled(self) -> bool {
        !matches!(self, Self::Enabled(false))
    }
}

impl Serialize for Think {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Enabled(b) => serializer.serialize_bool(*b),
            Self::Level(l) => serializer.serialize_str(match l {
                ThinkLevel::Low => "low",
                ThinkLevel::Medium => "medium",
                ThinkLevel::High => "high",
                ThinkLevel::Max => "max",
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Bool(b) => Ok(Self::Enabled(b)),
            Value::String(s) => match s.as_str() {
                "low" => Ok(Self::Level(ThinkLevel::Low)),
                "medium" => Ok(Self::Level(ThinkLevel::Medium)),
                "high" => Ok(Self::Level(ThinkLevel::High)),
                "max" => Ok(Self::Level(ThinkLevel::Max)),
                "true" => Ok(Self::Enabled(true)),
                "false" => Ok(Self::Enabled(false)),
                _ => Err(serde::de::Error::custom(format!(
                    "invalid think value: {s:?} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)"
                ))),
            },
            other => Err(serde::de::Error::custom(format!(
                "invalid think value: {other} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)"
            ))),
        }
    }
}

/// `format`: `"json"` or a JSON schema object; anything else is refused by
/// Ollama when generation starts, so it is kept raw here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Format(pub Value);

impl Format {
    /// JSON mode.
    pub fn json() -> Self {
        Self(Value::String("json".to_owned()))
    }

    /// True when the value is one Ollama accepts (`"json"`, `""`, null or an object).
    pub fn is_valid(&self) -> bool {
        match &self.0 {
            Value::String(s) => s == "json" || s.is_empty(),
            Value::Object(_) | Value::Null => true,
            _ => false,
        }
    }

    /// True when the format asks for JSON output (mode or schema).
    pub fn wants_json(&self) -> bool {
        matches!(&self.0, Value::Object(_)) || self.0.as_str() == Some("json")
    }
}

/// Defines a struct for reading a chunk that may carry [`Metrics`]: the
/// fields given, then the metrics' six fields spelled out, with
/// `metrics()` to collect them.
///
/// Spelled out rather than `#[serde(flatten)]`: a struct with a flattened
/// field buffers every other field of the object (the whole message)
/// before reading the flattened one from the buffer, several times the
/// cost of reading the fields directly — on every line of every stream.
macro_rules! with_metrics {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        struct $name {
            $($(#[$field_meta])* $field: $ty,)*
            total_duration: Option<u64>,
            load_duration: Option<u64>,
            prompt_eval_count: Option<u64>,
            prompt_eval_duration: Option<u64>,
            eval_count: Option<u64>,
            eval_duration: Option<u64>,
        }

        impl $name {
            fn metrics(&self) -> $crate::wire::Metrics {
                $crate::wire::Metrics {
                    total_duration: self.total_duration,
                    load_duration: self.load_duration,
                    prompt_eval_count: self.prompt_eval_count,
                    prompt_eval_duration: self.prompt_eval_duration,
                    eval_count: self.eval_count,
                    eval_duration: self.eval_duration,
                }
            }
        }
    };
}
pub(crate) use with_metrics;

/// The timing and token metrics of a final chunk. Every field is optional on
/// input and omitted when zero on output, as in Ollama.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// Request start to done, in nanoseconds.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub total_duration: Option<u64>,
    /// Scheduler queue plus model load, in nanoseconds.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub load_duration: Option<u64>,
    /// Prompt tokens evaluated (cached ones included).
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub prompt_eval_count: Option<u64>,
    /// Time spent on the prompt, in nanoseconds.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub prompt_eval_duration: Option<u64>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub eval_count: Option<u64>,
    /// Time spent generating, in nanoseconds.
    #[serde(default, skip_serializing_if = "super::is_zero_or_none")]
    pub eval_duration: Option<u64>,
}

impl Metrics {
    /// Generated tokens per second, when both numbers are known and non-zero.
    pub fn tokens_per_second(&self) -> Option<f64> {
        match (self.eval_count, self.eval_duration) {
            (Some(n), Some(d)) if d > 0 => Some(n as f64 * 1e9 / d as f64),
            _ => None,
        }
    }

    /// The load duration as a [`Duration`].
    pub fn load(&self) -> Option<Duration> {
        self.load_duration.map(Duration::from_nanos)
    }

    /// The total duration as a [`Duration`].
    pub fn total(&self) -> Option<Duration> {
        self.total_duration.map(Duration::from_nanos)
    }
}

/// The body of a native error response or a mid-stream error line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Ollama's message.
    pub error: String,
}

impl ErrorBody {
    /// A body with this message.
    pub fn new(error: impl Into<String>) -> Self {
        Self { error: error.into() }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keep_alive_forms() {
        let ka = |v: Value| serde_json::from_value::<KeepAlive>(v).unwrap().resolve();
        assert_eq!(ka(json!(300)).unwrap(), Some(Duration::from_mins(5)));
        assert_eq!(ka(json!(1.5)).unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(ka(json!("5m")).unwrap(), Some(Duration::from_mins(5)));
        assert_eq!(ka(json!(0)).unwrap(), Some(Duration::ZERO));
        assert_eq!(ka(json!("0")).unwrap(), Some(Duration::ZERO));
        assert_eq!(ka(json!(-1)).unwrap(), None);
        assert_eq!(ka(json!("-1m")).unwrap(), None);
        assert_eq!(
            ka(json!("300")).unwrap_err().to_string(),
            "time: missing unit in duration \"300\""
        );
        assert!(serde_json::from_value::<KeepAlive>(json!(true)).is_err());
    }

    #[test]
    fn think_forms() {
        let t = |v: Value| serde_json::from_value::<Think>(v);
        assert_eq!(t(json!(true)).unwrap(), Think::Enabled(true));
        assert_eq!(t(json!("high")).unwrap(), Think::Level(ThinkLevel::High));
        let err = t(json!("x")).unwrap_err().to_string();
        assert!(err.starts_with("invalid think value: \"x\""), "{err}");
    }

    #[test]
    fn metrics_omit_zero_and_tolerate_absence() {
        let m = Metrics { eval_count: Some(3), load_duration: Some(0), ..Metrics::default() };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"eval_count":3}"#);
        let back: Metrics = serde_json::from_str("{}").unwrap();
        assert_eq!(back, Metrics::default());
    }

    #[test]
    fn options_accessors() {
        let o: Options = serde_json::from_value(
            json!({"num_predict": 8.0, "num_ctx": 4096, "stop": ["\n"], "weird": 1}),
        )
        .unwrap();
        assert_eq!(o.num_predict(), Some(8));
        assert_eq!(o.num_ctx(), Some(4096));
        assert_eq!(o.stop(), vec!["\n".to_owned()]);
        assert_eq!(o.load_signature(), vec![("num_ctx", json!(4096))]);
    }

    #[test]
    fn message_roles_ignore_case_and_content_always_serialised() {
        let m: Message = serde_json::from_value(json!({"role": "USER"})).unwrap();
        assert_eq!(m.role, Role::User);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"role":"user","content":""}"#);
    }
}
