//! `POST /v1/completions`: the request, the response, the SSE chunks and
//! their conversions (`OLLAMA_API.md` §7.2).

use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::common::{
    SYSTEM_FINGERPRINT, Stop, StreamOptions, Usage, finish_reason, go_type_name, null_as_default,
    put,
};
use super::error::OpenAiError;
use crate::wire::{GenerateRequest, GenerateResponse, Options};

/// A `/v1/completions` request. Unknown fields are ignored; `prompt` must be
/// a string (an array fails to parse, as Ollama's bind does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model, as the caller spelled it.
    #[serde(default)]
    pub model: String,
    /// The prompt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt: String,
    /// Fill-in-the-middle suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Becomes `options.num_predict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Becomes `options.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Becomes `options.stop`; non-string array elements are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Stream SSE chunks; the `/v1` default is false (and omitted when false).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::wire::is_false"
    )]
    pub stream: bool,
    /// `include_usage` for streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Becomes `options.temperature`; absent means 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Becomes `options.top_p`; absent or 0 means 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Becomes `options.frequency_penalty` (always sent, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Becomes `options.presence_penalty` (always sent, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// N > 0 asks for log probabilities with the top N alternatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<i64>,
}

impl CompletionRequest {
    /// True when a streamed response must end with a usage chunk.
    pub fn include_usage(&self) -> bool {
        self.stream_options.is_some_and(|o| o.include_usage)
    }

    /// The native generate request Ollama's middleware would build.
    ///
    /// # Errors
    ///
    /// A 400 [`OpenAiError`] `invalid type for 'stop' field: <go type>` when a
    /// `stop` array holds a non-string.
    pub fn to_native(&self) -> Result<GenerateRequest, OpenAiError> {
        let mut options = Map::new();
        if let Some(stop) = &self.stop {
            match stop.strings(true) {
                Ok(Some(list)) => {
                    options.insert("stop".to_owned(), list.into());
                }
                Ok(None) => {}
                Err(bad) => {
                    return Err(OpenAiError::invalid_request(format!(
                        "invalid type for 'stop' field: {}",
                        go_type_name(bad)
                    )));
                }
            }
        }
        put(&mut options, "num_predict", self.max_tokens);
        put(&mut options, "temperature", Some(self.temperature.unwrap_or(1.0)));
        put(&mut options, "seed", self.seed);
        put(&mut options, "frequency_penalty", Some(self.frequency_penalty.unwrap_or(0.0)));
        put(&mut options, "presence_penalty", Some(self.presence_penalty.unwrap_or(0.0)));
        let top_p = self.top_p.filter(|p| *p != 0.0).unwrap_or(1.0);
        put(&mut options, "top_p", Some(top_p));

        let logprobs = self.logprobs.filter(|n| *n > 0);
        Ok(GenerateRequest {
            model: self.model.clone(),
            prompt: Some(self.prompt.clone()),
            suffix: self.suffix.clone().filter(|s| !s.is_empty()),
            stream: Some(self.stream),
            options: Some(Options(options)),
            logprobs: logprobs.map(|_| true),
            top_logprobs: logprobs,
            ..GenerateRequest::default()
        })
    }
}

/// A non-streaming `/v1/completions` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// `cmpl-<n>`.
    pub id: String,
    /// `text_completion`.
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    /// The model as requested.
    pub model: String,
    /// `fp_ollama`.
    #[serde(default)]
    pub system_fingerprint: String,
    /// Always one choice.
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
}

/// One choice of a completion or completion chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The text.
    pub text: String,
    /// Always 0.
    pub index: u32,
    /// `stop`, `length`, or null.
    pub finish_reason: Option<String>,
}

impl CompletionChoice {
    fn from_native(native: &GenerateResponse) -> Self {
        Self {
            text: native.response.clone(),
            index: 0,
            finish_reason: finish_reason(native.done_reason.as_deref()),
        }
    }
}

impl Completion {
    /// The response for a whole native generate response. `created` is Unix
    /// seconds (Ollama uses the native `created_at`).
    pub fn from_native(native: &GenerateResponse, id: &str, created: i64) -> Self {
        Self {
            id: id.to_owned(),
            object: "text_completion".to_owned(),
            created,
            model: native.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT.to_owned(),
            choices: vec![CompletionChoice::from_native(native)],
            usage: Usage::from_metrics(&native.metrics),
        }
    }
}

/// One SSE chunk of a streamed `/v1/completions` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChunk {
    /// The same id on every chunk of a stream.
    pub id: String,
    /// `text_completion` (the same name as the whole response).
    pub object: String,
    /// Unix seconds, taken per chunk.
    pub created: i64,
    /// One choice, or none on the usage chunk.
    pub choices: Vec<CompletionChoice>,
    /// The model as requested.
    pub model: String,
    /// `fp_ollama`.
    #[serde(default)]
    pub system_fingerprint: String,
    /// With `include_usage`: zeros on every chunk, the real counts on the
    /// extra last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Turns a native generate stream into `/v1/completions` chunks: one chunk
/// per native chunk (the last carries `finish_reason`), and with
/// `include_usage` zeroed usage on each of them plus a final chunk with no
/// choices and the real usage (`OLLAMA_API.md` §7.2).
#[derive(Debug, Clone)]
pub struct CompletionChunker {
    id: String,
    include_usage: bool,
}

impl CompletionChunker {
    /// A chunker for one stream.
    pub fn new(id: impl Into<String>, include_usage: bool) -> Self {
        Self { id: id.into(), include_usage }
    }

    /// The chunks for the next native chunk; `created` is now, in Unix seconds.
    pub fn push(&mut self, native: &GenerateResponse, created: i64) -> Vec<CompletionChunk> {
        let zero = self.include_usage.then(Usage::default);
        let mut out =
            vec![self.chunk(native, created, vec![CompletionChoice::from_native(native)], zero)];
        if native.done && self.include_usage {
            let usage = Some(Usage::from_metrics(&native.metrics));
            out.push(self.chunk(native, created, Vec::new(), usage));
        }
        out
    }

    fn chunk(
        &self,
        native: &GenerateResponse,
        created: i64,
        choices: Vec<CompletionChoice>,
        usage: Option<Usage>,
    ) -> CompletionChunk {
        CompletionChunk {
            id: self.id.clone(),
            object: "text_completion".to_owned(),
            created,
            choices,
            model: native.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT.to_owned(),
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::wire::Metrics;

    fn request(body: Value) -> CompletionRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn to_native_defaults() {
        let n = request(json!({"model": "m", "prompt": "once upon"})).to_native().unwrap();
        assert_eq!(n.prompt.as_deref(), Some("once upon"));
        assert_eq!(n.stream, Some(false));
        let o = n.options.unwrap();
        assert_eq!(o.temperature(), Some(1.0));
        assert_eq!(o.0["top_p"], json!(1.0));
        assert_eq!(o.0["frequency_penalty"], json!(0.0));
        assert_eq!(o.0["presence_penalty"], json!(0.0));
        assert!(n.suffix.is_none() && n.logprobs.is_none());
    }

    #[test]
    fn to_native_fields() {
        let n = request(json!({"model": "m", "prompt": "p", "suffix": "s", "max_tokens": 5,
            "seed": 1, "stop": ["\n"], "stream": true, "temperature": 0.0, "top_p": 0.0,
            "frequency_penalty": 0.5, "logprobs": 3}))
        .to_native()
        .unwrap();
        assert_eq!(n.suffix.as_deref(), Some("s"));
        assert_eq!(n.stream, Some(true));
        assert_eq!((n.logprobs, n.top_logprobs), (Some(true), Some(3)));
        let o = n.options.unwrap();
        assert_eq!(o.num_predict(), Some(5));
        assert_eq!(o.seed(), Some(1));
        assert_eq!(o.stop(), vec!["\n".to_owned()]);
        assert_eq!(o.temperature(), Some(0.0));
        assert_eq!(o.0["top_p"], json!(1.0), "0 means unset");
        assert_eq!(o.0["frequency_penalty"], json!(0.5));
    }

    #[test]
    fn stop_with_non_string_refused() {
        let e = request(json!({"model": "m", "prompt": "p", "stop": ["a", 1]})).to_native();
        let e = e.unwrap_err();
        assert_eq!((e.status, e.message()), (400, "invalid type for 'stop' field: float64"));
    }

    #[test]
    fn prompt_array_does_not_parse() {
        let r = serde_json::from_value::<CompletionRequest>(json!({"model": "m", "prompt": ["a"]}));
        assert!(r.is_err());
    }

    fn native(text: &str, done: bool) -> GenerateResponse {
        GenerateResponse {
            model: "m".to_owned(),
            response: text.to_owned(),
            done,
            done_reason: done.then(|| "stop".to_owned()),
            metrics: Metrics {
                prompt_eval_count: done.then_some(4),
                eval_count: done.then_some(2),
                ..Metrics::default()
            },
            ..GenerateResponse::default()
        }
    }

    #[test]
    fn completion_from_native() {
        let c = Completion::from_native(&native("Hello", true), "cmpl-7", 5);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"id": "cmpl-7", "object": "text_completion", "created": 5, "model": "m",
                "system_fingerprint": "fp_ollama",
                "choices": [{"text": "Hello", "index": 0, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}})
        );
    }

    #[test]
    fn stream_with_and_without_usage() {
        let mut plain = CompletionChunker::new("cmpl-1", false);
        let first = plain.push(&native("He", false), 10);
        assert_eq!(first.len(), 1);
        let v = serde_json::to_value(&first[0]).unwrap();
        assert_eq!(v["choices"][0], json!({"text": "He", "index": 0, "finish_reason": null}));
        assert!(v.get("usage").is_none());
        let last = plain.push(&native("", true), 11);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(last[0].created, 11);

        let mut counted = CompletionChunker::new("cmpl-1", true);
        let first = counted.push(&native("He", false), 10);
        assert_eq!(first[0].usage, Some(Usage::default()));
        let last = counted.push(&native("", true), 11);
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].usage, Some(Usage::default()));
        assert!(last[1].choices.is_empty());
        assert_eq!(
            last[1].usage,
            Some(Usage { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 })
        );
    }
}
