//! The `[models]` table: settings that apply whenever a given model is used.

use std::fmt;

use om_core::wire::{KeepAlive, Options};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Per-model settings, keyed by model name in [`Config::models`](crate::Config::models).
///
/// ```toml
/// [models."qwen2.5-coder:7b"]
/// options = { num_ctx = 16384, temperature = 0.2 }
/// keep_alive = "30m"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// Ollama options (`num_ctx`, `temperature`, …) merged under each
    /// request's own options; passed through unchecked, as Ollama accepts
    /// keys it does not know.
    pub options: Options,
    /// How long the model stays loaded after a request: Go duration text
    /// (`"5m"`, `"-1m"` for forever) or seconds. Kept as written so it is
    /// forwarded unchanged.
    #[serde(deserialize_with = "keep_alive", skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
}

/// Accepts what Ollama accepts and refuses with a clear message what Ollama
/// would refuse with a 400 at request time.
fn keep_alive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<KeepAlive>, D::Error> {
    deserializer.deserialize_any(KeepAliveVisitor).map(Some)
}

struct KeepAliveVisitor;

impl Visitor<'_> for KeepAliveVisitor {
    type Value = KeepAlive;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"5m\" (negative for forever) or a number of seconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<KeepAlive, E> {
        crate::duration::parse_signed(text).map_err(E::custom)?;
        Ok(KeepAlive::Text(text.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<KeepAlive, E> {
        Ok(KeepAlive::Seconds(seconds as f64))
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<KeepAlive, E> {
        Ok(KeepAlive::Seconds(seconds as f64))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<KeepAlive, E> {
        if seconds.is_finite() {
            Ok(KeepAlive::Seconds(seconds))
        } else {
            Err(E::custom(format!("invalid keep_alive {seconds}: not a finite number")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_forms() {
        let m: ModelSettings = serde_json::from_str(r#"{"keep_alive": "-1m"}"#).unwrap();
        assert_eq!(m.keep_alive, Some(KeepAlive::Text("-1m".into())));
        let m: ModelSettings = serde_json::from_str(r#"{"keep_alive": 300}"#).unwrap();
        assert_eq!(m.keep_alive, Some(KeepAlive::Seconds(300.0)));
        let m: ModelSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(m.keep_alive, None);
        let err = serde_json::from_str::<ModelSettings>(r#"{"keep_alive": "5d"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown unit \"d\""), "{err}");
    }

    #[test]
    fn options_pass_through() {
        let m: ModelSettings =
            serde_json::from_str(r#"{"options": {"num_ctx": 8192, "whatever": [1]}}"#).unwrap();
        assert_eq!(m.options.num_ctx(), Some(8192));
        assert!(m.options.0.contains_key("whatever"));
    }
}
