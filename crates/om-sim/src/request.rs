//! Reading requests the way Ollama's gin handlers do: any Content-Type,
//! unknown fields ignored, Go-like error texts, and the typed checks on
//! `options`, `keep_alive` and `format`.

use std::sync::LazyLock;
use std::time::Duration;

use om_core::wire::{Format, KeepAlive, Options};
use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::scheduler::Signature;
use crate::spec::ModelSpec;

/// The `num_ctx` a runner gets when the request sets none (Ollama's tier for
/// machines under 23 GiB of VRAM), capped at the model's trained context.
pub(crate) const DEFAULT_NUM_CTX: u64 = 4096;

/// Decodes a JSON request body.
///
/// # Errors
///
/// 400 `missing request body` for an empty body, 400 with the decoder's
/// message (without serde's position suffix) for anything that does not
/// decode.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::missing_body());
    }
    serde_json::from_slice(body).map_err(|err| ApiError::bad_request(decode_message(&err)))
}

/// serde's message without the ` at line L column C` it appends.
pub(crate) fn decode_message(err: &serde_json::Error) -> String {
    static POSITION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r" at line \d+ column \d+$").expect("a valid regex"));
    POSITION.replace(&err.to_string(), "").into_owned()
}

/// Resolves `keep_alive`: `None` is forever.
///
/// # Errors
///
/// 400 with Go's duration message (`time: missing unit in duration "300"`).
pub(crate) fn keep_alive(
    value: Option<&KeepAlive>,
    default: Duration,
) -> Result<Option<Duration>, ApiError> {
    match value {
        None => Ok((default != Duration::MAX).then_some(default)),
        Some(value) => value.resolve().map_err(|err| ApiError::bad_request(err.to_string())),
    }
}

/// True when `keep_alive` is given and zero (the unload shortcut).
pub(crate) fn is_unload(value: Option<&KeepAlive>) -> bool {
    value.is_some_and(|v| matches!(v.resolve(), Ok(Some(d)) if d.is_zero()))
}

const INT_OPTIONS: [&str; 11] = [
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "repeat_last_n",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "draft_num_predict",
];
const FLOAT_OPTIONS: [&str; 7] = [
    "top_p",
    "min_p",
    "typical_p",
    "temperature",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
];
const BOOL_OPTIONS: [&str; 1] = ["use_mmap"];

/// Checks the types of the options Ollama knows; unknown keys pass.
///
/// # Errors
///
/// 500 `option "x" must be of type integer|float32|boolean|array`, as Ollama
/// reports it when the runner options are built.
pub(crate) fn check_options(options: Option<&Options>) -> Result<(), ApiError> {
    let Some(options) = options else { return Ok(()) };
    for (key, value) in &options.0 {
        if value.is_null() {
            continue;
        }
        let expected = if INT_OPTIONS.contains(&key.as_str()) {
            (!value.is_number()).then_some("integer")
        } else if FLOAT_OPTIONS.contains(&key.as_str()) {
            (!value.is_number()).then_some("float32")
        } else if BOOL_OPTIONS.contains(&key.as_str()) {
            (!value.is_boolean()).then_some("boolean")
        } else if key == "stop" {
            let ok = value.as_array().is_some_and(|items| items.iter().all(Value::is_string));
            (!ok).then_some("array")
        } else {
            None
        };
        if let Some(kind) = expected {
            return Err(ApiError::internal(format!("option \"{key}\" must be of type {kind}")));
        }
    }
    Ok(())
}

/// Checks `format`.
///
/// # Errors
///
/// 500 `invalid format: "<raw>"; expected "json" or a valid JSON Schema object`.
pub(crate) fn check_format(format: Option<&Format>) -> Result<(), ApiError> {
    match format {
        Some(f) if !f.is_valid() => {
            let raw = serde_json::to_string(&f.0).unwrap_or_default();
            Err(ApiError::internal(format!(
                "invalid format: {raw:?}; expected \"json\" or a valid JSON Schema object"
            )))
        }
        _ => Ok(()),
    }
}

/// The context a runner for `model` is loaded with, and the load signature
/// that decides reloads (`num_ctx` always included, with its default).
pub(crate) fn load_signature(model: &ModelSpec, options: Option<&Options>) -> (u64, Signature) {
    let num_ctx = options
        .and_then(Options::num_ctx)
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_NUM_CTX)
        .min(model.context_length.max(1));
    let mut signature: Signature = options.map(Options::load_signature).unwrap_or_default();
    signature.retain(|(key, _)| *key != "num_ctx");
    signature.push(("num_ctx", Value::from(num_ctx)));
    (num_ctx, signature)
}

/// `num_predict` when it limits generation (negative means unbounded).
pub(crate) fn num_predict(options: Option<&Options>) -> Option<u64> {
    options.and_then(Options::num_predict).and_then(|n| u64::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::default_model;

    #[test]
    fn decode_errors() {
        assert_eq!(decode::<Value>(b"").unwrap_err(), ApiError::missing_body());
        assert_eq!(decode::<Value>(b"  \n").unwrap_err(), ApiError::missing_body());
        let err = decode::<om_core::wire::GenerateRequest>(br#"{"prompt": 5}"#).unwrap_err();
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        assert!(err.message.starts_with("invalid type: integer `5`"), "{}", err.message);
        assert!(!err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn keep_alive_forms() {
        let five = Duration::from_mins(5);
        assert_eq!(keep_alive(None, five).unwrap(), Some(five));
        assert_eq!(keep_alive(None, Duration::MAX).unwrap(), None);
        let text = KeepAlive::Text("300".to_owned());
        assert_eq!(
            keep_alive(Some(&text), five).unwrap_err().message,
            "time: missing unit in duration \"300\""
        );
        assert!(is_unload(Some(&KeepAlive::Seconds(0.0))));
        assert!(is_unload(Some(&KeepAlive::Text("0s".to_owned()))));
        assert!(!is_unload(None));
    }

    #[test]
    fn option_types() {
        let ok: Options =
            serde_json::from_value(json!({"num_ctx": 8.0, "stop": ["x"], "weird": "y"})).unwrap();
        assert!(check_options(Some(&ok)).is_ok());
        let bad: Options = serde_json::from_value(json!({"num_ctx": "big"})).unwrap();
        assert_eq!(
            check_options(Some(&bad)).unwrap_err().message,
            "option \"num_ctx\" must be of type integer"
        );
        let bad: Options = serde_json::from_value(json!({"stop": "x"})).unwrap();
        assert_eq!(
            check_options(Some(&bad)).unwrap_err().message,
            "option \"stop\" must be of type array"
        );
    }

    #[test]
    fn format_check() {
        assert!(check_format(Some(&Format::json())).is_ok());
        let bad = Format(json!("xml"));
        assert_eq!(
            check_format(Some(&bad)).unwrap_err().message,
            r#"invalid format: "\"xml\""; expected "json" or a valid JSON Schema object"#
        );
    }

    #[test]
    fn signatures_default_and_cap_num_ctx() {
        let embed = default_model("nomic-embed-text").unwrap();
        assert_eq!(load_signature(&embed, None).0, 2048);
        let llama = default_model("llama3.2").unwrap();
        let (ctx, sig) = load_signature(&llama, None);
        assert_eq!(ctx, 4096);
        let opts = Options::default().with("num_ctx", 4096.0);
        assert_eq!(load_signature(&llama, Some(&opts)).1, sig);
        let opts = Options::default().with("num_ctx", 8192);
        assert_ne!(load_signature(&llama, Some(&opts)).1, sig);
    }
}
