//! The other direction: a native request sent to an OpenAI-compatible
//! server (llama.cpp's `llama-server`, vLLM, LM Studio, OpenAI itself), and
//! its answer read back as the native lines Ollama would have written.
//!
//! The client (`om-client`) does the I/O; this module only converts:
//!
//! - requests: [`ChatCompletionRequest::from_native`] (a generate request
//!   goes as a chat through [`chat_for_generate`], or, when its prompt must
//!   reach the model as written, as a legacy completion:
//!   [`is_plain_completion`], [`CompletionRequest::from_native`]) and
//!   [`embeddings_request`];
//! - streamed answers: [`NativeStream`] takes each SSE `data:` payload (of
//!   a chat or a legacy completion) and
//!   writes native NDJSON lines; tool-call argument pieces are joined and
//!   the calls written whole, as Ollama does, and the last line carries the
//!   counts from `usage`;
//! - whole answers: [`native_whole`], [`native_embed`];
//! - discovery: [`BackendModel::parse_list`] reads `/v1/models` (with
//!   llama.cpp's `meta.n_ctx_train` when present), from which the native
//!   list, running list and show answers are made.
//!
//! Anything the server answers that is not in these shapes is an error
//! naming what was expected, so a server that speaks neither API is told
//! apart from one that is down.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::chat::{
    ChatCompletionRequest, ChatMessage, ContentPart, ImageUrl, MessageContent, ResponseFormat,
    ResponseJsonSchema, openai_tool_calls,
};
use super::common::{Stop, StreamOptions, Usage};
use super::completion::CompletionRequest;
use crate::rng::hash_str;
use crate::wire::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse,
    GenerateRequest, GenerateResponse, ListResponse, Message, Metrics, ModelDetails, ModelEntry,
    PsResponse, Role, RunningModel, ShowResponse, Think, ThinkLevel, ToolCall, ToolCallFunction,
};
use crate::{Capabilities, DeclaredCapabilities};

impl ChatCompletionRequest {
    /// The `/v1/chat/completions` request for a native chat: messages with
    /// images as data URLs and tool calls with string arguments; `format`
    /// as `response_format`; `num_predict` (when positive), `temperature`,
    /// `top_p`, `seed`, `stop` and the penalties from `options`; a `think`
    /// level as `reasoning_effort`; streams ask for the usage chunk.
    /// Options without an OpenAI counterpart (`num_ctx`, `top_k`, …) and
    /// `keep_alive` are not sent: the server decides those itself.
    pub fn from_native(native: &ChatRequest) -> Self {
        let sampling = Sampling::of(native.options.as_ref());
        let stream = native.is_stream();
        Self {
            model: native.model.clone(),
            messages: native.messages.iter().map(openai_message).collect(),
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
            max_tokens: sampling.max_tokens,
            seed: sampling.seed,
            stop: sampling.stop,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            frequency_penalty: sampling.frequency_penalty,
            presence_penalty: sampling.presence_penalty,
            response_format: native.format.as_ref().and_then(|format| match &format.0 {
                Value::String(s) if s == "json" => {
                    Some(ResponseFormat { kind: "json_object".to_owned(), json_schema: None })
                }
                schema @ Value::Object(_) => Some(ResponseFormat {
                    kind: "json_schema".to_owned(),
                    json_schema: Some(ResponseJsonSchema {
                        name: Some("answer".to_owned()),
                        schema: schema.clone(),
                    }),
                }),
                _ => None,
            }),
            tools: native.tools.clone().filter(|t| !t.is_empty()),
            reasoning_effort: match native.think {
                Some(Think::Level(level)) => Some(
                    match level {
                        ThinkLevel::Low => "low",
                        ThinkLevel::Medium => "medium",
                        ThinkLevel::High | ThinkLevel::Max => "high",
                    }
                    .to_owned(),
                ),
                _ => None,
            },
            reasoning: None,
            logprobs: None,
            top_logprobs: None,
        }
    }
}

/// The native options both `/v1` requests carry: `num_predict` (when
/// positive) as `max_tokens`, `seed`, `stop`, `temperature`, `top_p` and
/// the penalties.
struct Sampling {
    max_tokens: Option<i64>,
    seed: Option<i64>,
    stop: Option<Stop>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
}

impl Sampling {
    fn of(options: Option<&crate::wire::Options>) -> Self {
        let number = |key: &str| options.and_then(|o| o.0.get(key)).and_then(Value::as_f64);
        let stop = options.map(crate::wire::Options::stop).filter(|s| !s.is_empty());
        Self {
            max_tokens: options.and_then(crate::wire::Options::num_predict).filter(|n| *n > 0),
            seed: options.and_then(crate::wire::Options::seed),
            stop: stop.map(|s| Stop::Many(s.into_iter().map(Value::String).collect())),
            temperature: number("temperature"),
            top_p: number("top_p"),
            frequency_penalty: number("frequency_penalty"),
            presence_penalty: number("presence_penalty"),
        }
    }
}

impl CompletionRequest {
    /// The legacy `/v1/completions` request for a native generate whose
    /// prompt must reach the model as written ([`is_plain_completion`]):
    /// the prompt and `suffix`, and the options as for a chat. The server
    /// applies no chat template to it, which is what `raw` asks of Ollama.
    pub fn from_native(native: &GenerateRequest) -> Self {
        let sampling = Sampling::of(native.options.as_ref());
        let stream = native.is_stream();
        Self {
            model: native.model.clone(),
            prompt: native.prompt.clone().unwrap_or_default(),
            suffix: native.suffix.clone().filter(|s| !s.is_empty()),
            max_tokens: sampling.max_tokens,
            seed: sampling.seed,
            stop: sampling.stop,
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            frequency_penalty: sampling.frequency_penalty,
            presence_penalty: sampling.presence_penalty,
            logprobs: native.top_logprobs.filter(|_| native.logprobs == Some(true)),
        }
    }
}

/// Whether a native generate goes to an OpenAI-compatible server as a
/// legacy completion (the prompt as written) rather than as a chat (the
/// prompt as the user's message, templated by the server): when it is
/// `raw`, or fills in the middle (`suffix`), and has no images, which a
/// completion cannot carry.
pub fn is_plain_completion(native: &GenerateRequest) -> bool {
    let fills_in = native.suffix.as_ref().is_some_and(|s| !s.is_empty());
    let images = native.images.as_ref().is_some_and(|i| !i.is_empty());
    (native.raw == Some(true) || fills_in) && !images
}

fn openai_message(message: &Message) -> ChatMessage {
    let images = message.images.as_deref().unwrap_or_default();
    let content = if images.is_empty() {
        MessageContent::Text(message.content.clone())
    } else {
        let mut parts = vec![ContentPart::Text { text: message.content.clone() }];
        parts.extend(images.iter().map(|data| ContentPart::ImageUrl {
            image_url: ImageUrl::Url(format!("data:{};base64,{data}", media_type(data))),
        }));
        MessageContent::Parts(parts)
    };
    // A server pairs results with calls by id: a call that came without
    // one gets its position.
    let tool_calls = message.tool_calls.as_ref().map(|calls| {
        let mut calls = openai_tool_calls(Some(calls));
        for (i, call) in calls.iter_mut().enumerate().filter(|(_, c)| c.id.is_empty()) {
            call.id = format!("call_{i}");
        }
        calls
    });
    ChatMessage {
        role: message.role.as_str().to_owned(),
        content: Some(content),
        tool_calls,
        name: message.tool_name.clone().filter(|_| message.role == Role::Tool),
        tool_call_id: message.tool_call_id.clone(),
        ..ChatMessage::default()
    }
}

/// The image type of base64 data, from its first bytes (PNG when unsure).
fn media_type(data: &str) -> &'static str {
    if data.starts_with("/9j/") {
        "image/jpeg"
    } else if data.starts_with("R0lG") {
        "image/gif"
    } else if data.starts_with("UklG") {
        "image/webp"
    } else {
        "image/png"
    }
}

/// A native generate request as a chat: its `system`, then the prompt (and
/// images) as the user's message; options, format, think and streaming
/// unchanged. The server applies its own chat template (`raw` and
/// `template` have no OpenAI counterpart).
pub fn chat_for_generate(native: &GenerateRequest) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(system) = native.system.as_ref().filter(|s| !s.is_empty()) {
        messages.push(Message::new(Role::System, system.clone()));
    }
    messages.push(Message {
        images: native.images.clone().filter(|i| !i.is_empty()),
        ..Message::new(Role::User, native.prompt.clone().unwrap_or_default())
    });
    ChatRequest {
        model: native.model.clone(),
        messages,
        format: native.format.clone(),
        options: native.options.clone(),
        stream: native.stream,
        think: native.think,
        ..ChatRequest::default()
    }
}

/// The `/v1/embeddings` request for a native embed (or legacy embeddings)
/// request.
pub fn embeddings_request(model: &str, input: &[&str], dimensions: Option<usize>) -> Value {
    let mut body = json!({ "model": model, "input": input, "encoding_format": "float" });
    if let Some(dimensions) = dimensions {
        body["dimensions"] = dimensions.into();
    }
    body
}

/// What the native answer is made of: a chat's messages or a generate's
/// `response` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerShape {
    /// `/api/chat` lines.
    Chat,
    /// `/api/generate` lines.
    Generate,
}

// === What the servers send, read leniently ===

#[derive(Debug, Default, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    /// Streams.
    #[serde(default)]
    delta: Option<Delta>,
    /// Whole answers.
    #[serde(default)]
    message: Option<Delta>,
    /// Legacy completions, streamed or whole.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

impl Choice {
    /// What the choice says: a chat's delta or message, or a completion's
    /// text (as content).
    fn said(&mut self) -> Option<Delta> {
        self.delta.take().or_else(|| self.message.take()).or_else(|| {
            self.text.take().map(|text| Delta { content: Some(text), ..Delta::default() })
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// vLLM, `llama.cpp` and `DeepSeek` name it so.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Ollama and LM Studio name it so.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<CallDelta>>,
}

#[derive(Debug, Default, Deserialize)]
struct CallDelta {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    /// A piece of the JSON text (some servers send an object).
    #[serde(default)]
    arguments: Option<Value>,
}

/// A call being assembled from its pieces.
#[derive(Debug, Default, Clone)]
struct PartialCall {
    index: u32,
    id: Option<String>,
    name: String,
    arguments: String,
}

impl PartialCall {
    fn add(&mut self, delta: CallDelta) {
        if let Some(id) = delta.id.filter(|id| !id.is_empty()) {
            self.id = Some(id);
        }
        if let Some(function) = delta.function {
            if let Some(name) = function.name.filter(|n| !n.is_empty()) {
                self.name = name;
            }
            match function.arguments {
                Some(Value::String(piece)) => self.arguments.push_str(&piece),
                Some(Value::Null) | None => {}
                Some(object) => self.arguments = object.to_string(),
            }
        }
    }

    fn native(&self) -> Result<ToolCall, String> {
        let arguments = if self.arguments.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&self.arguments).map_err(|e| {
                format!("the arguments of tool call '{}' are not JSON: {e}", self.name)
            })?
        };
        Ok(ToolCall {
            id: self.id.clone(),
            function: ToolCallFunction {
                index: Some(self.index),
                name: self.name.clone(),
                arguments,
            },
        })
    }
}

/// One streamed answer of an OpenAI-compatible server, turned into native
/// NDJSON lines as its SSE payloads arrive.
///
/// Each text or reasoning piece becomes one native chunk (`done: false`);
/// tool calls are collected from their pieces and written whole on one
/// chunk when the server says it has finished; [`finish`](Self::finish)
/// writes the `done: true` line with `done_reason` (`length` when the
/// server stopped at `max_tokens`, else `stop`) and the counts of the
/// usage chunk, or, when the server sent none, the pieces counted.
#[derive(Debug, Clone)]
pub struct NativeStream {
    model: String,
    shape: AnswerShape,
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    pieces: u64,
    out: Vec<u8>,
}

impl NativeStream {
    /// A stream answering `model` (as requested) in `shape`.
    pub fn new(model: impl Into<String>, shape: AnswerShape) -> Self {
        Self {
            model: model.into(),
            shape,
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            pieces: 0,
            out: Vec::new(),
        }
    }

    /// Reads one SSE `data:` payload (not `[DONE]`); returns how many text
    /// or reasoning pieces it held, written as native lines.
    ///
    /// # Errors
    ///
    /// When the payload is not a chat or legacy completion chunk: the message says so.
    pub fn push(&mut self, data: &[u8], created_at: &str) -> Result<u64, String> {
        if data.starts_with(b"{\"error\"") {
            let error: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
            let message = error["error"]["message"]
                .as_str()
                .map_or_else(|| error["error"].to_string(), str::to_owned);
            self.write(&json!({ "error": message }));
            return Ok(0);
        }
        let chunk: Chunk = serde_json::from_slice(data)
            .map_err(|e| format!("not an OpenAI completion chunk: {e}"))?;
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let mut pieces = 0;
        for mut choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.said() {
                let thinking = delta.reasoning_content.or(delta.reasoning).unwrap_or_default();
                let content = delta.content.unwrap_or_default();
                if !content.is_empty() || !thinking.is_empty() {
                    pieces += 1;
                    self.write_piece(content, thinking, None, created_at);
                }
                for call in delta.tool_calls.into_iter().flatten() {
                    let index = call.index.unwrap_or(0);
                    let at =
                        self.calls.iter().position(|c| c.index == index).unwrap_or_else(|| {
                            self.calls.push(PartialCall { index, ..PartialCall::default() });
                            self.calls.len() - 1
                        });
                    self.calls[at].add(call);
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.finish_reason = Some(reason);
            }
        }
        self.pieces += pieces;
        Ok(pieces)
    }

    /// True once the server said why it stopped.
    pub fn has_finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// Writes the last lines: the tool calls, then `done: true` with
    /// `timing` (durations measured by the caller) and the counts.
    ///
    /// # Errors
    ///
    /// When a tool call's arguments are not JSON.
    pub fn finish(&mut self, created_at: &str, timing: Metrics) -> Result<(), String> {
        if !self.calls.is_empty() {
            let calls =
                self.calls.iter().map(PartialCall::native).collect::<Result<Vec<_>, _>>()?;
            self.calls.clear();
            self.write_piece(String::new(), String::new(), Some(calls), created_at);
        }
        let metrics = counted(timing, self.usage, self.pieces);
        let done_reason = done_reason(self.finish_reason.as_deref());
        let line =
            self.line(String::new(), String::new(), None, created_at, Some(done_reason), metrics);
        self.write(&line);
        Ok(())
    }

    /// The native bytes written so far, taken.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn write_piece(
        &mut self,
        content: String,
        thinking: String,
        calls: Option<Vec<ToolCall>>,
        created_at: &str,
    ) {
        let line = self.line(content, thinking, calls, created_at, None, Metrics::default());
        self.write(&line);
    }

    fn line(
        &self,
        content: String,
        thinking: String,
        calls: Option<Vec<ToolCall>>,
        created_at: &str,
        done_reason: Option<&str>,
        metrics: Metrics,
    ) -> Value {
        native_value(
            self.shape,
            &self.model,
            created_at,
            content,
            thinking,
            calls,
            done_reason,
            metrics,
        )
    }

    fn write(&mut self, value: &Value) {
        // Serialising a `Value` cannot fail.
        if serde_json::to_writer(&mut self.out, value).is_ok() {
            self.out.push(b'\n');
        }
    }
}

/// A native chunk of `shape` as JSON.
#[expect(clippy::too_many_arguments, reason = "the fields of one native chunk")]
fn native_value(
    shape: AnswerShape,
    model: &str,
    created_at: &str,
    content: String,
    thinking: String,
    calls: Option<Vec<ToolCall>>,
    done_reason: Option<&str>,
    metrics: Metrics,
) -> Value {
    let done = done_reason.is_some();
    let thinking = Some(thinking).filter(|t| !t.is_empty());
    let value = match shape {
        AnswerShape::Chat => serde_json::to_value(ChatResponse {
            model: model.to_owned(),
            created_at: created_at.to_owned(),
            message: Message {
                thinking,
                tool_calls: calls,
                ..Message::new(Role::Assistant, content)
            },
            done,
            done_reason: done_reason.map(str::to_owned),
            metrics,
        }),
        AnswerShape::Generate => serde_json::to_value(GenerateResponse {
            model: model.to_owned(),
            created_at: created_at.to_owned(),
            response: content,
            thinking,
            done,
            done_reason: done_reason.map(str::to_owned),
            metrics,
            ..GenerateResponse::default()
        }),
    };
    value.unwrap_or(Value::Null)
}

fn done_reason(finish_reason: Option<&str>) -> &'static str {
    if finish_reason == Some("length") { "length" } else { "stop" }
}

/// `timing` with the counts of `usage` (or of the pieces seen).
fn counted(timing: Metrics, usage: Option<Usage>, pieces: u64) -> Metrics {
    Metrics {
        prompt_eval_count: usage.map(|u| u.prompt_tokens),
        eval_count: Some(usage.map_or(pieces, |u| u.completion_tokens)),
        ..timing
    }
}

/// A whole `/v1/chat/completions` answer as the one native object of
/// `shape` (no trailing newline, as Ollama writes it).
///
/// # Errors
///
/// When the body is not a chat completion, or a call's arguments are not
/// JSON.
pub fn native_whole(
    body: &[u8],
    model: &str,
    shape: AnswerShape,
    created_at: &str,
    timing: Metrics,
) -> Result<Vec<u8>, String> {
    let answer: Chunk =
        serde_json::from_slice(body).map_err(|e| format!("not an OpenAI completion: {e}"))?;
    let Some(mut choice) = answer.choices.into_iter().find(|c| c.index == 0) else {
        return Err("not an OpenAI completion: it has no choices".to_owned());
    };
    let message = choice.said().unwrap_or_default();
    let calls = message
        .tool_calls
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, delta)| {
            let mut call = PartialCall {
                index: delta.index.unwrap_or(u32::try_from(i).unwrap_or(u32::MAX)),
                ..PartialCall::default()
            };
            call.add(delta);
            call.native()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metrics = counted(timing, answer.usage, 0);
    let value = native_value(
        shape,
        model,
        created_at,
        message.content.unwrap_or_default(),
        message.reasoning_content.or(message.reasoning).unwrap_or_default(),
        Some(calls).filter(|c| !c.is_empty()),
        Some(done_reason(choice.finish_reason.as_deref())),
        metrics,
    );
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[derive(Debug, Deserialize)]
struct Embeddings {
    data: Vec<EmbeddingItem>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

/// A `/v1/embeddings` answer as the native `/api/embed` one (vectors in
/// input order, normalised to unit length as Ollama's are).
///
/// # Errors
///
/// When the body is not an embeddings list.
pub fn native_embed(
    body: &[u8],
    request: &EmbedRequest,
    timing: Metrics,
) -> Result<EmbedResponse, String> {
    let mut answer: Embeddings =
        serde_json::from_slice(body).map_err(|e| format!("not an OpenAI embeddings list: {e}"))?;
    answer.data.sort_by_key(|item| item.index);
    let embeddings = answer
        .data
        .into_iter()
        .map(|item| {
            let norm = item.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                item.embedding.iter().map(|x| x / norm).collect()
            } else {
                item.embedding
            }
        })
        .collect();
    Ok(EmbedResponse {
        model: request.model.clone(),
        embeddings,
        total_duration: timing.total_duration,
        load_duration: None,
        prompt_eval_count: answer.usage.map(|u| u.prompt_tokens).filter(|n| *n > 0),
    })
}

/// A `/v1/embeddings` answer as the legacy `/api/embeddings` one (the first
/// vector, as sent).
///
/// # Errors
///
/// When the body is not an embeddings list with one vector.
pub fn native_embeddings(
    body: &[u8],
    _request: &EmbeddingsRequest,
) -> Result<EmbeddingsResponse, String> {
    let answer: Embeddings =
        serde_json::from_slice(body).map_err(|e| format!("not an OpenAI embeddings list: {e}"))?;
    let first = answer.data.into_iter().next().ok_or("the embeddings list is empty")?;
    Ok(EmbeddingsResponse { embedding: first.embedding.into_iter().map(f64::from).collect() })
}

/// One model an OpenAI-compatible server lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendModel {
    /// Its id, which requests name.
    pub id: String,
    /// Unix seconds, when the server says.
    pub created: Option<i64>,
    /// The trained context, when the server says (llama.cpp's
    /// `meta.n_ctx_train`, vLLM's `max_model_len`).
    pub context_length: Option<u64>,
    /// What the configuration says it can do ([`Self::declare`]); without
    /// it, [`Self::capabilities`] guesses.
    pub declared: Option<Capabilities>,
}

impl BackendModel {
    /// Reads a `/v1/models` answer.
    ///
    /// # Errors
    ///
    /// When the body is not `{"data": [{"id": …}, …]}`: the server does not
    /// speak the OpenAI API.
    pub fn parse_list(body: &[u8]) -> Result<Vec<Self>, String> {
        // `data` must be there; `null` is how Ollama's own `/v1` lists none.
        #[derive(Deserialize)]
        struct List {
            #[serde(deserialize_with = "present")]
            data: Option<Vec<Item>>,
        }
        fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Item>>, D::Error> {
            Option::<Vec<Item>>::deserialize(d)
        }
        #[derive(Deserialize)]
        struct Item {
            id: String,
            #[serde(default)]
            created: Option<i64>,
            #[serde(default)]
            meta: Option<Value>,
            #[serde(default)]
            max_model_len: Option<u64>,
        }
        let list: List = serde_json::from_slice(body)
            .map_err(|e| format!("not an OpenAI model list (/v1/models): {e}"))?;
        Ok(list
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|item| Self {
                context_length: item
                    .meta
                    .as_ref()
                    .and_then(|m| m.get("n_ctx_train"))
                    .and_then(Value::as_u64)
                    .or(item.max_model_len),
                id: item.id,
                created: item.created,
                declared: None,
            })
            .collect())
    }

    /// Sets each model's capabilities from what the configuration
    /// declares for it.
    pub fn declare(models: &mut [Self], declared: &DeclaredCapabilities) {
        for model in models {
            model.declared = declared.of(&model.id);
        }
    }

    /// What the model can do: as declared, or else guessed from its name,
    /// since the OpenAI API does not say. Embedding models by name;
    /// everything else completes text and may call tools (the server
    /// refuses tools it cannot run).
    pub fn capabilities(&self) -> Vec<String> {
        if let Some(declared) = self.declared {
            return declared.names();
        }
        let id = self.id.to_ascii_lowercase();
        if id.contains("embed") || id.contains("bge-") || id.contains("e5-") {
            vec!["embedding".to_owned()]
        } else {
            vec!["completion".to_owned(), "tools".to_owned()]
        }
    }

    fn modified_at(&self) -> String {
        let nanos = i128::from(self.created.unwrap_or(0)) * 1_000_000_000;
        crate::time::format_unix_nanos(nanos)
    }

    fn digest(&self) -> String {
        format!("{:016x}", hash_str(&self.id))
    }

    fn details(&self) -> ModelDetails {
        ModelDetails {
            format: "openai".to_owned(),
            context_length: self.context_length,
            ..ModelDetails::default()
        }
    }

    /// The native list of these models.
    pub fn native_list(models: &[Self]) -> ListResponse {
        ListResponse {
            models: models
                .iter()
                .map(|m| ModelEntry {
                    name: m.id.clone(),
                    model: m.id.clone(),
                    modified_at: m.modified_at(),
                    size: 0,
                    digest: m.digest(),
                    details: m.details(),
                    capabilities: Some(m.capabilities()),
                })
                .collect(),
        }
    }

    /// The native running list: a server that lists a model has it ready
    /// (llama.cpp and vLLM serve what they loaded; the API has no notion of
    /// unloaded models).
    pub fn native_ps(models: &[Self]) -> PsResponse {
        PsResponse {
            models: models
                .iter()
                .map(|m| RunningModel {
                    name: m.id.clone(),
                    model: m.id.clone(),
                    size: 0,
                    digest: m.digest(),
                    details: m.details(),
                    expires_at: String::new(),
                    size_vram: 0,
                    context_length: m.context_length,
                })
                .collect(),
        }
    }

    /// The native show answer for this model.
    pub fn native_show(&self) -> ShowResponse {
        let mut model_info = Map::new();
        model_info.insert("general.architecture".to_owned(), "openai".into());
        if let Some(context) = self.context_length {
            model_info.insert("openai.context_length".to_owned(), context.into());
        }
        ShowResponse {
            details: self.details(),
            model_info,
            capabilities: Some(self.capabilities()),
            modified_at: Some(self.modified_at()),
            ..ShowResponse::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Options;

    #[test]
    fn chat_request_to_openai() {
        let native: ChatRequest = serde_json::from_value(json!({
            "model": "m", "stream": true, "format": "json", "think": "high",
            "options": {"num_predict": 16, "temperature": 0.2, "stop": ["x"], "num_ctx": 8192},
            "messages": [
                {"role":"system","content":"s"},
                {"role":"user","content":"look","images":["iVBORw0KGgo="]},
                {"role":"assistant","content":"","tool_calls":[{"id":"c1","function":{"name":"f","arguments":{"a":1}}}]},
                {"role":"tool","content":"r","tool_name":"f","tool_call_id":"c1"},
            ],
        }))
        .unwrap();
        let openai = serde_json::to_value(ChatCompletionRequest::from_native(&native)).unwrap();
        assert_eq!(openai["max_tokens"], 16);
        assert_eq!(openai["stream_options"]["include_usage"], true);
        assert_eq!(openai["stop"], json!(["x"]));
        assert_eq!(openai["response_format"]["type"], "json_object");
        assert_eq!(openai["reasoning_effort"], "high");
        assert!(openai.get("num_ctx").is_none());
        assert_eq!(
            openai["messages"][1]["content"][1]["image_url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        assert_eq!(openai["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(openai["messages"][3]["tool_call_id"], "c1");
        assert_eq!(openai["messages"][3]["name"], "f");
    }

    fn lines(bytes: &[u8]) -> Vec<Value> {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn a_stream_becomes_native_lines() {
        let mut stream = NativeStream::new("m", AnswerShape::Chat);
        let payloads = [
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":4,"total_tokens":11}}"#,
        ];
        let mut pieces = 0;
        for payload in payloads {
            pieces += stream.push(payload.as_bytes(), "t").unwrap();
        }
        assert_eq!(pieces, 3);
        assert!(stream.has_finished());
        stream.finish("t", Metrics { total_duration: Some(5), ..Metrics::default() }).unwrap();
        let out = lines(&stream.take());
        assert_eq!(out.len(), 5);
        assert_eq!(out[0]["message"]["thinking"], "hm");
        assert_eq!(out[1]["message"]["content"], "Hel");
        assert_eq!(out[3]["message"]["tool_calls"][0]["function"]["arguments"], json!({"a":1}));
        assert_eq!(out[3]["message"]["tool_calls"][0]["id"], "c");
        let done = &out[4];
        assert_eq!(done["done"], true);
        assert_eq!(done["done_reason"], "stop");
        assert_eq!(
            (done["prompt_eval_count"].as_u64(), done["eval_count"].as_u64()),
            (Some(7), Some(4))
        );
        assert_eq!(done["total_duration"], 5);
        assert!(crate::wire::is_json_line(&serde_json::to_vec(done).unwrap()));
    }

    #[test]
    fn generate_shape_length_and_errors() {
        let mut stream = NativeStream::new("m", AnswerShape::Generate);
        stream
            .push(
                br#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}]}"#,
                "t",
            )
            .unwrap();
        stream.finish("t", Metrics::default()).unwrap();
        let out = lines(&stream.take());
        assert_eq!(out[0]["response"], "a");
        assert_eq!(out[1]["done_reason"], "length");
        // No usage chunk: the pieces are counted.
        assert_eq!(out[1]["eval_count"], 1);
        assert!(
            stream.push(b"<html>", "t").unwrap_err().contains("not an OpenAI completion chunk")
        );
        stream.push(br#"{"error":{"message":"boom","type":"server_error"}}"#, "t").unwrap();
        assert_eq!(lines(&stream.take())[0], json!({"error":"boom"}));
    }

    #[test]
    fn raw_and_fill_in_generates_go_as_legacy_completions() {
        let options = Options::default()
            .with("num_predict", 8)
            .with("temperature", 0.2)
            .with("stop", json!(["\n\n"]))
            .with("num_ctx", 4096);
        let raw = GenerateRequest {
            raw: Some(true),
            options: Some(options),
            ..GenerateRequest::new("m", "<|user|>hi<|assistant|>")
        };
        assert!(is_plain_completion(&raw));
        let body = serde_json::to_value(CompletionRequest::from_native(&raw)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "m",
                "prompt": "<|user|>hi<|assistant|>",
                "max_tokens": 8,
                "stop": ["\n\n"],
                "stream": true,
                "stream_options": {"include_usage": true},
                "temperature": 0.2,
            })
        );
        let fill_in = GenerateRequest {
            suffix: Some("}".to_owned()),
            stream: Some(false),
            ..GenerateRequest::new("m", "fn main() {")
        };
        assert!(is_plain_completion(&fill_in));
        let body = serde_json::to_value(CompletionRequest::from_native(&fill_in)).unwrap();
        assert_eq!(body, json!({"model": "m", "prompt": "fn main() {", "suffix": "}"}));
        // A templated prompt is a chat; images cannot go in a completion.
        assert!(!is_plain_completion(&GenerateRequest::new("m", "hi")));
        let with_image = GenerateRequest { images: Some(vec!["aGk=".to_owned()]), ..raw.clone() };
        assert!(!is_plain_completion(&with_image));
    }

    #[test]
    fn legacy_completion_answers_read_as_generate_lines() {
        let mut stream = NativeStream::new("m", AnswerShape::Generate);
        for payload in [
            r#"{"id":"c","object":"text_completion","choices":[{"index":0,"text":"Hel","finish_reason":null}]}"#,
            r#"{"id":"c","object":"text_completion","choices":[{"index":0,"text":"lo","finish_reason":"length"}]}"#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
        ] {
            stream.push(payload.as_bytes(), "t").unwrap();
        }
        assert!(stream.has_finished());
        stream.finish("t", Metrics::default()).unwrap();
        let out = lines(&stream.take());
        assert_eq!(
            (out[0]["response"].as_str(), out[1]["response"].as_str()),
            (Some("Hel"), Some("lo"))
        );
        assert_eq!(out[2]["done_reason"], "length");
        assert_eq!(out[2]["eval_count"], 2);

        let body = br#"{"id":"c","object":"text_completion","choices":[{"index":0,"text":"42","finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
        let whole: GenerateResponse = serde_json::from_slice(
            &native_whole(body, "m", AnswerShape::Generate, "t", Metrics::default()).unwrap(),
        )
        .unwrap();
        assert_eq!(whole.response, "42");
        assert!(whole.done);
        assert_eq!(whole.metrics.prompt_eval_count, Some(3));
    }

    #[test]
    fn whole_answers_models_and_embeddings() {
        let body = br#"{"id":"x","object":"chat.completion","choices":[{"index":0,
            "message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
        let whole: ChatResponse = serde_json::from_slice(
            &native_whole(body, "m", AnswerShape::Chat, "t", Metrics::default()).unwrap(),
        )
        .unwrap();
        assert_eq!(whole.message.content, "hi");
        assert!(whole.done);
        assert_eq!(whole.metrics.eval_count, Some(1));
        assert!(native_whole(b"{}", "m", AnswerShape::Chat, "t", Metrics::default()).is_err());

        let models = BackendModel::parse_list(
            br#"{"object":"list","data":[{"id":"qwen","created":1,"meta":{"n_ctx_train":4096}},{"id":"nomic-embed"}]}"#,
        )
        .unwrap();
        assert_eq!(models[0].context_length, Some(4096));
        assert_eq!(
            BackendModel::native_list(&models).models[1].capabilities,
            Some(vec!["embedding".to_owned()])
        );
        assert_eq!(models[0].native_show().context_length(), Some(4096));
        assert_eq!(BackendModel::native_ps(&models).models.len(), 2);
        assert!(BackendModel::parse_list(b"{\"version\":\"0.5\"}").is_err());

        let request = EmbedRequest { model: "e".to_owned(), ..EmbedRequest::default() };
        let embed = native_embed(
            br#"{"data":[{"index":1,"embedding":[0,2]},{"index":0,"embedding":[3,4]}],"usage":{"prompt_tokens":2}}"#,
            &request,
            Metrics::default(),
        )
        .unwrap();
        assert_eq!(embed.embeddings, vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
        let _ = Options::default();
    }
}
