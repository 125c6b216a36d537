//! Pieces shared by the `/v1` endpoints: usage, `stop`, stream options, SSE
//! framing and the small helpers the conversions need.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::wire::Metrics;

/// The `system_fingerprint` Ollama puts on every `/v1` response.
pub(crate) const SYSTEM_FINGERPRINT: &str = "fp_ollama";

/// The event that ends every `/v1` SSE stream.
pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// Frames one chunk object as an SSE event: `data: <json>\n\n` (Ollama sends
/// no `event:` lines on `/v1/chat/completions` and `/v1/completions`).
///
/// # Errors
///
/// Only when `value` cannot be serialised as JSON, which none of this
/// module's types can cause.
pub fn sse_data<T: Serialize>(value: &T) -> serde_json::Result<String> {
    Ok(format!("data: {}\n\n", serde_json::to_string(value)?))
}

/// Token counts of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (`prompt_eval_count`).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Generated tokens (`eval_count`).
    #[serde(default)]
    pub completion_tokens: u64,
    /// The sum of both.
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    /// Usage from a native final chunk's metrics (absent counts are zero).
    pub fn from_metrics(metrics: &Metrics) -> Self {
        let prompt = metrics.prompt_eval_count.unwrap_or(0);
        let completion = metrics.eval_count.unwrap_or(0);
        Self {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a final chunk with the usage before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// `stop`: one string or an array. Array elements are kept as raw JSON because
/// the endpoints treat non-strings differently (chat drops them, completions
/// refuses them); any other JSON type is ignored, as Ollama does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several; non-strings are kept so the caller can refuse them.
    Many(Vec<Value>),
    /// Any other JSON value (ignored by the conversions).
    Other(Value),
}

impl Stop {
    /// The stop strings, or the first non-string element when `strict`.
    pub(crate) fn strings(&self, strict: bool) -> Result<Option<Vec<String>>, &Value> {
        match self {
            Self::One(s) => Ok(Some(vec![s.clone()])),
            Self::Many(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push(s.to_owned()),
                        None if strict => return Err(item),
                        None => {}
                    }
                }
                Ok(Some(out))
            }
            Self::Other(_) => Ok(None),
        }
    }
}

/// Go's `%T` of a value decoded into `any`, for error messages copied from
/// Ollama (`invalid type for 'stop' field: float64`).
pub(crate) fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Inserts `key: value` when `value` is present.
pub(crate) fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

/// Deserialises `null` as the type's default, as Go does for non-pointer fields.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A `finish_reason` from a native `done_reason`: empty means none.
pub(crate) fn finish_reason(done_reason: Option<&str>) -> Option<String> {
    done_reason.filter(|r| !r.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stop_forms() {
        let stop = |v: Value| serde_json::from_value::<Stop>(v).unwrap();
        assert_eq!(stop(json!("x")).strings(true).unwrap(), Some(vec!["x".to_owned()]));
        assert_eq!(stop(json!(["a", 1])).strings(false).unwrap(), Some(vec!["a".to_owned()]));
        assert_eq!(stop(json!(["a", 1])).strings(true).unwrap_err(), &json!(1));
        assert_eq!(stop(json!(3)).strings(true).unwrap(), None);
    }

    #[test]
    fn sse_framing() {
        assert_eq!(sse_data(&json!({"a":1})).unwrap(), "data: {\"a\":1}\n\n");
        assert_eq!(SSE_DONE, "data: [DONE]\n\n");
    }

    #[test]
    fn usage_from_metrics() {
        let m = Metrics { prompt_eval_count: Some(26), eval_count: Some(3), ..Metrics::default() };
        assert_eq!(
            Usage::from_metrics(&m),
            Usage { prompt_tokens: 26, completion_tokens: 3, total_tokens: 29 }
        );
        assert_eq!(Usage::from_metrics(&Metrics::default()), Usage::default());
    }

    #[test]
    fn go_type_names() {
        assert_eq!(go_type_name(&json!(1.5)), "float64");
        assert_eq!(go_type_name(&json!(null)), "<nil>");
        assert_eq!(go_type_name(&json!({})), "map[string]interface {}");
    }
}
