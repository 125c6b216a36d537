//! `POST /v1/chat/completions`: the request, the response, the SSE chunks and
//! their conversions (`OLLAMA_API.md` §7.1).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::common::{
    SYSTEM_FINGERPRINT, Stop, StreamOptions, Usage, finish_reason, null_as_default, put,
};
use super::error::OpenAiError;
use crate::wire::{
    ChatRequest, ChatResponse, Format, Message, Options, Role, Think, ThinkLevel, Tool, ToolCall,
    ToolCallFunction,
};

/// The reply to a `/v1` image given by URL rather than inline data.
const IMAGE_URL_UNSUPPORTED: &str =
    "image URLs are not currently supported, please use base64 encoded data instead";

/// Data-URL prefixes Ollama accepts for images (the empty MIME type matches
/// `/api/chat`'s bare base64).
const IMAGE_PREFIXES: [&str; 5] = [
    "data:;base64,",
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/png;base64,",
    "data:image/webp;base64,",
];

// === Request ===

/// A `/v1/chat/completions` request. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model, as the caller spelled it.
    #[serde(default)]
    pub model: String,
    /// The conversation (must not be empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub messages: Vec<ChatMessage>,
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
    /// Becomes `options.num_predict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Becomes `options.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Becomes `options.stop` (non-string array elements are dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Becomes `options.temperature`; absent means 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Becomes `options.top_p`; absent means 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Becomes `options.frequency_penalty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Becomes `options.presence_penalty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// `json_object` or `json_schema`; becomes `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Tools, in the native JSON shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Becomes `think` (see [`ChatCompletionRequest::to_native`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// `reasoning.effort`; wins over `reasoning_effort` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Per-token log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// Alternatives per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<i64>,
}

/// `reasoning` in a chat request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// The effort level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

/// `response_format`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The schema, for `json_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<ResponseJsonSchema>,
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseJsonSchema {
    /// The schema's name (ignored by Ollama).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The JSON schema, which becomes the native `format`.
    #[serde(default)]
    pub schema: Value,
}

/// One message of a chat request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool` (any case).
    pub role: String,
    /// A string or content parts; may be null only with `tool_calls`.
    #[serde(default)]
    pub content: Option<MessageContent>,
    /// Reasoning of an earlier assistant turn; becomes `thinking`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Calls an earlier assistant turn made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
    /// On `tool` messages: the function that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// On `tool` messages: the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with a string content.
    pub fn text(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(MessageContent::Text(content.into())),
            ..Self::default()
        }
    }
}

/// `content` of a request message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts; each becomes its own native message.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// `{"type":"text","text":…}`.
    Text {
        /// The text.
        text: String,
    },
    /// `{"type":"image_url","image_url":…}`.
    ImageUrl {
        /// A data URL, as a string or `{url}`.
        image_url: ImageUrl,
    },
    /// `{"type":"input_audio","input_audio":{data,format}}`.
    InputAudio {
        /// The base64 audio.
        input_audio: InputAudio,
    },
    /// Any other part type; refused with `invalid message format`.
    #[serde(other)]
    Unsupported,
}

/// `image_url` of a content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageUrl {
    /// The URL itself.
    Url(String),
    /// `{"url":…,"detail":…}`.
    Object {
        /// The URL.
        url: String,
        /// `low`, `high` or `auto` (ignored).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl ImageUrl {
    /// The URL, whichever form carried it.
    pub fn url(&self) -> &str {
        match self {
            Self::Url(url) | Self::Object { url, .. } => url,
        }
    }
}

/// `input_audio` of a content part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAudio {
    /// Base64 audio bytes.
    pub data: String,
    /// `wav`, `mp3`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A tool call in the `/v1` shape: `arguments` is a JSON **string**.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatToolCall {
    /// `call_…`.
    #[serde(default)]
    pub id: String,
    /// Position among the calls of one message.
    #[serde(default)]
    pub index: u32,
    /// Always `function`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function called.
    pub function: ChatToolCallFunction,
}

/// The function part of a [`ChatToolCall`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatToolCallFunction {
    /// The function name.
    #[serde(default)]
    pub name: String,
    /// The arguments encoded as a JSON string. Some clients send an object
    /// instead; it is re-encoded as a string on input.
    #[serde(default, deserialize_with = "string_or_json")]
    pub arguments: String,
}

fn function_type() -> String {
    "function".to_owned()
}

fn string_or_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

impl ChatCompletionRequest {
    /// True when a streamed response must end with a usage chunk.
    pub fn include_usage(&self) -> bool {
        self.stream_options.is_some_and(|o| o.include_usage)
    }

    /// The native request Ollama's middleware would build.
    ///
    /// Messages: string content is kept; each content part becomes its own
    /// native message with the same role (`text` → content, `image_url` data
    /// URLs and `input_audio` → `images`, base64 part only); assistant
    /// `tool_calls` have their string `arguments` parsed; `tool` messages get
    /// `tool_name` from `name` or from the call their `tool_call_id` answers;
    /// `reasoning` becomes `thinking`; `developer` is treated as `system`.
    /// Options: `max_tokens` → `num_predict`, `temperature` and `top_p`
    /// default to 1.0, `seed`, `stop` and the penalties copied. `response_format`
    /// → `format`; `reasoning.effort` (or `reasoning_effort`) → `think`:
    /// `none` → false, `minimal` → low, `low|medium|high|max` as is,
    /// `xhigh|ultra` → max.
    ///
    /// # Errors
    ///
    /// A 400 [`OpenAiError`] with Ollama's message: `[] is too short -
    /// 'messages'`, `image URLs are not currently supported, please use base64
    /// encoded data instead`, `invalid image input`, `invalid message format`,
    /// `invalid tool call arguments`, `invalid message content type: <nil>`,
    /// or an unknown role or reasoning effort.
    pub fn to_native(&self) -> Result<ChatRequest, OpenAiError> {
        if self.messages.is_empty() {
            return Err(OpenAiError::invalid_request("[] is too short - 'messages'"));
        }
        let mut messages = Vec::with_capacity(self.messages.len());
        for msg in &self.messages {
            convert_message(msg, &self.messages, &mut messages)?;
        }

        let mut options = Map::new();
        if let Some(Ok(Some(stop))) = self.stop.as_ref().map(|s| s.strings(false)) {
            options.insert("stop".to_owned(), stop.into());
        }
        put(&mut options, "num_predict", self.max_tokens);
        put(&mut options, "temperature", Some(self.temperature.unwrap_or(1.0)));
        put(&mut options, "seed", self.seed);
        put(&mut options, "frequency_penalty", self.frequency_penalty);
        put(&mut options, "presence_penalty", self.presence_penalty);
        put(&mut options, "top_p", Some(self.top_p.unwrap_or(1.0)));

        let effort = match &self.reasoning {
            Some(reasoning) => reasoning.effort.as_deref(),
            None => self.reasoning_effort.as_deref(),
        };

        Ok(ChatRequest {
            model: self.model.clone(),
            messages,
            tools: self.tools.clone(),
            format: self.response_format.as_ref().and_then(native_format),
            options: Some(Options(options)),
            stream: Some(self.stream),
            think: effort.map(think_from_effort).transpose()?.flatten(),
            logprobs: self.logprobs,
            top_logprobs: self.top_logprobs,
            ..ChatRequest::default()
        })
    }
}

fn native_format(format: &ResponseFormat) -> Option<Format> {
    match format.kind.trim().to_ascii_lowercase().as_str() {
        "json_object" => Some(Format::json()),
        "json_schema" => format
            .json_schema
            .as_ref()
            .filter(|s| !s.schema.is_null())
            .map(|s| Format(s.schema.clone())),
        _ => None,
    }
}

/// Maps a reasoning effort to `think`; `Ok(None)` for an empty effort.
pub(crate) fn think_from_effort(effort: &str) -> Result<Option<Think>, OpenAiError> {
    let level = match effort {
        "" => return Ok(None),
        "none" => return Ok(Some(Think::Enabled(false))),
        "minimal" | "low" => ThinkLevel::Low,
        "medium" => ThinkLevel::Medium,
        "high" => ThinkLevel::High,
        "max" | "xhigh" | "ultra" => ThinkLevel::Max,
        other => {
            return Err(OpenAiError::invalid_request(format!(
                "invalid reasoning value: '{other}' (must be \"minimal\", \"low\", \"medium\", \"high\", \"xhigh\", \"max\", \"ultra\", or \"none\")"
            )));
        }
    };
    Ok(Some(Think::Level(level)))
}

fn parse_role(role: &str) -> Result<Role, OpenAiError> {
    match role.to_ascii_lowercase().as_str() {
        // The native API has no `developer` role; it plays the system part.
        "system" | "developer" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        _ => Err(OpenAiError::invalid_request(format!("invalid role {role:?}"))),
    }
}

/// Appends the native messages for one `/v1` message to `out`.
fn convert_message(
    msg: &ChatMessage,
    all: &[ChatMessage],
    out: &mut Vec<Message>,
) -> Result<(), OpenAiError> {
    let role = parse_role(&msg.role)?;
    let (tool_name, tool_call_id) = if role == Role::Tool {
        let name = msg
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| msg.tool_call_id.as_deref().and_then(|id| tool_name_for_call(all, id)));
        (name, msg.tool_call_id.clone())
    } else {
        (None, None)
    };
    let thinking = msg.reasoning.clone().filter(|r| !r.is_empty());
    let tool_calls = match &msg.tool_calls {
        Some(calls) if !calls.is_empty() => Some(native_tool_calls(calls)?),
        _ => None,
    };
    let base = Message {
        role,
        tool_name: tool_name.clone(),
        tool_call_id: tool_call_id.clone(),
        ..Message::default()
    };

    match &msg.content {
        Some(MessageContent::Text(text)) => {
            out.push(Message { content: text.clone(), thinking, tool_calls, ..base });
        }
        Some(MessageContent::Parts(parts)) => {
            let start = out.len();
            for part in parts {
                let message = match part {
                    ContentPart::Text { text } => Message { content: text.clone(), ..base.clone() },
                    ContentPart::ImageUrl { image_url } => {
                        Message { images: Some(vec![image_data(image_url.url())?]), ..base.clone() }
                    }
                    ContentPart::InputAudio { input_audio } => {
                        if !is_base64(&input_audio.data) {
                            return Err(OpenAiError::invalid_request("invalid message format"));
                        }
                        // The native message has one field for binary
                        // attachments; multimodal runners read audio from it too.
                        Message { images: Some(vec![input_audio.data.clone()]), ..base.clone() }
                    }
                    ContentPart::Unsupported => {
                        return Err(OpenAiError::invalid_request("invalid message format"));
                    }
                };
                out.push(message);
            }
            // Several native messages may have come from one OpenAI message:
            // the calls and the reasoning belong to the last of them.
            if let Some(calls) = tool_calls {
                if out.len() > start {
                    if let Some(last) = out.last_mut() {
                        last.tool_calls = Some(calls);
                        last.thinking = thinking;
                    }
                } else {
                    out.push(Message { thinking, tool_calls: Some(calls), ..base });
                }
            }
        }
        None => {
            // Content may only be absent when the message carries calls.
            if msg.tool_calls.is_none() {
                return Err(OpenAiError::invalid_request("invalid message content type: <nil>"));
            }
            out.push(Message { thinking, tool_calls, ..base });
        }
    }
    Ok(())
}

/// The function name of the call `id`, searching from the end ("last one
/// wins" for duplicate ids, as Ollama does).
fn tool_name_for_call(all: &[ChatMessage], id: &str) -> Option<String> {
    all.iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter().flatten())
        .find(|call| call.id == id)
        .map(|call| call.function.name.clone())
}

fn native_tool_calls(calls: &[ChatToolCall]) -> Result<Vec<ToolCall>, OpenAiError> {
    calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let arguments = match serde_json::from_str::<Value>(&call.function.arguments) {
                Ok(Value::Null) => Value::Object(Map::new()),
                Ok(value @ Value::Object(_)) => value,
                _ => return Err(OpenAiError::invalid_request("invalid tool call arguments")),
            };
            Ok(ToolCall {
                id: Some(call.id.clone()).filter(|id| !id.is_empty()),
                function: ToolCallFunction {
                    index: Some(u32::try_from(i).unwrap_or(u32::MAX)),
                    name: call.function.name.clone(),
                    arguments,
                },
            })
        })
        .collect()
}

/// The base64 payload of an image data URL.
pub(crate) fn image_data(url: &str) -> Result<String, OpenAiError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(OpenAiError::invalid_request(IMAGE_URL_UNSUPPORTED));
    }
    let data = IMAGE_PREFIXES
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix))
        .ok_or_else(|| OpenAiError::invalid_request("invalid image input"))?;
    if !is_base64(data) {
        return Err(OpenAiError::invalid_request("invalid message format"));
    }
    Ok(data.to_owned())
}

/// True when `text` is standard padded base64 (what Go's `StdEncoding`
/// decodes; line breaks are ignored as Go does).
pub(crate) fn is_base64(text: &str) -> bool {
    let bytes: Vec<u8> = text.bytes().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let body_len = bytes.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    let padding = bytes.len() - body_len;
    padding <= 2
        && bytes[..body_len].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Native tool calls in the `/v1` shape, arguments re-encoded as a string.
pub(crate) fn openai_tool_calls(calls: Option<&Vec<ToolCall>>) -> Vec<ChatToolCall> {
    calls
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, call)| ChatToolCall {
            id: call.id.clone().unwrap_or_default(),
            index: call.function.index.unwrap_or(u32::try_from(i).unwrap_or(u32::MAX)),
            kind: function_type(),
            function: ChatToolCallFunction {
                name: call.function.name.clone(),
                arguments: match &call.function.arguments {
                    Value::Null => "{}".to_owned(),
                    args => args.to_string(),
                },
            },
        })
        .collect()
}

// === Response ===

/// A non-streaming `/v1/chat/completions` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-<n>`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    /// The model as requested.
    pub model: String,
    /// `fp_ollama`.
    #[serde(default)]
    pub system_fingerprint: String,
    /// Always one choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
}

/// One choice of a [`ChatCompletion`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Always 0.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatCompletionMessage,
    /// `stop`, `length`, `tool_calls`, or null.
    pub finish_reason: Option<String>,
}

/// The assistant message of a [`ChatChoice`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionMessage {
    /// `assistant`.
    pub role: String,
    /// The text (always present).
    #[serde(default)]
    pub content: String,
    /// The reasoning trace (Ollama names it `reasoning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls, arguments as JSON strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
}

impl ChatCompletion {
    /// The response for a whole native chat response. `created` is Unix
    /// seconds (Ollama uses the native `created_at`).
    pub fn from_native(native: &ChatResponse, id: &str, created: i64) -> Self {
        let tool_calls = openai_tool_calls(native.message.tool_calls.as_ref());
        let finish = if tool_calls.is_empty() {
            finish_reason(native.done_reason.as_deref())
        } else {
            Some("tool_calls".to_owned())
        };
        Self {
            id: id.to_owned(),
            object: "chat.completion".to_owned(),
            created,
            model: native.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT.to_owned(),
            choices: vec![ChatChoice {
                index: 0,
                message: ChatCompletionMessage {
                    role: native.message.role.as_str().to_owned(),
                    content: native.message.content.clone(),
                    reasoning: native.message.thinking.clone().filter(|t| !t.is_empty()),
                    tool_calls: Some(tool_calls).filter(|c| !c.is_empty()),
                },
                finish_reason: finish,
            }],
            usage: Usage::from_metrics(&native.metrics),
        }
    }
}

/// One SSE chunk of a streamed `/v1/chat/completions` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The same id on every chunk of a stream.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds, the same on every chunk.
    pub created: i64,
    /// The model as requested.
    pub model: String,
    /// `fp_ollama`.
    #[serde(default)]
    pub system_fingerprint: String,
    /// One choice, or none on the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Only on the usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// The choice of a [`ChatCompletionChunk`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// What this chunk adds.
    pub delta: ChatDelta,
    /// Set on the finish chunk only.
    pub finish_reason: Option<String>,
}

/// The `delta` of a chunk: every field is omitted when absent, so the finish
/// chunk's delta is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatDelta {
    /// `assistant`, in the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The next text (`""` rather than absent on content chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The next piece of reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Whole tool calls (never argument deltas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
}

/// Turns a native chat stream into `/v1` chunks, one native chunk at a time,
/// following Ollama's rules (`OLLAMA_API.md` §7.1):
///
/// - `role: "assistant"` only in the first chunk's delta; `content` is `""`
///   rather than absent when empty;
/// - a native chunk with both thinking and content or tool calls becomes two
///   chunks, reasoning first;
/// - the final native chunk yields no content chunk when it is empty, then a
///   finish chunk with `delta: {}` and the `finish_reason` (`tool_calls` once
///   any call was sent), then — with `include_usage` — a chunk with no choices
///   and the usage.
///
/// The caller frames each chunk with [`super::sse_data`] and ends the stream
/// with [`super::SSE_DONE`].
#[derive(Debug, Clone)]
pub struct ChatChunker {
    id: String,
    created: i64,
    include_usage: bool,
    role_sent: bool,
    tool_call_sent: bool,
}

impl ChatChunker {
    /// A chunker for one stream. `created` (Unix seconds) is reused on every
    /// chunk; Ollama takes it from the first native chunk.
    pub fn new(id: impl Into<String>, created: i64, include_usage: bool) -> Self {
        Self { id: id.into(), created, include_usage, role_sent: false, tool_call_sent: false }
    }

    /// The chunks for the next native chunk, in order.
    pub fn push(&mut self, native: &ChatResponse) -> Vec<ChatCompletionChunk> {
        let mut out = Vec::new();
        let content = &native.message.content;
        let thinking = native.message.thinking.as_deref().unwrap_or_default();
        let calls = openai_tool_calls(native.message.tool_calls.as_ref());
        let has_body = !content.is_empty() || !calls.is_empty();

        if !native.done || has_body || !thinking.is_empty() {
            let calls = Some(calls).filter(|c| !c.is_empty());
            if !thinking.is_empty() && has_body {
                let reasoning = ChatDelta {
                    content: Some(String::new()),
                    reasoning: Some(thinking.to_owned()),
                    ..ChatDelta::default()
                };
                out.push(self.delta_chunk(native, reasoning));
                let body = ChatDelta {
                    content: Some(content.clone()),
                    tool_calls: calls,
                    ..ChatDelta::default()
                };
                out.push(self.delta_chunk(native, body));
            } else {
                let delta = ChatDelta {
                    content: Some(content.clone()),
                    reasoning: Some(thinking.to_owned()).filter(|t| !t.is_empty()),
                    tool_calls: calls,
                    ..ChatDelta::default()
                };
                out.push(self.delta_chunk(native, delta));
            }
        }

        if native.done {
            let finish = finish_reason(native.done_reason.as_deref())
                .map(|reason| if self.tool_call_sent { "tool_calls".to_owned() } else { reason });
            out.push(self.chunk(
                native,
                vec![ChunkChoice { index: 0, delta: ChatDelta::default(), finish_reason: finish }],
                None,
            ));
            if self.include_usage {
                out.push(self.chunk(
                    native,
                    Vec::new(),
                    Some(Usage::from_metrics(&native.metrics)),
                ));
            }
        }
        out
    }

    fn delta_chunk(&mut self, native: &ChatResponse, mut delta: ChatDelta) -> ChatCompletionChunk {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some(Role::Assistant.as_str().to_owned());
        }
        if delta.tool_calls.is_some() {
            self.tool_call_sent = true;
        }
        self.chunk(native, vec![ChunkChoice { index: 0, delta, finish_reason: None }], None)
    }

    fn chunk(
        &self,
        native: &ChatResponse,
        choices: Vec<ChunkChoice>,
        usage: Option<Usage>,
    ) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: native.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT.to_owned(),
            choices,
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::Metrics;

    fn request(body: Value) -> ChatCompletionRequest {
        serde_json::from_value(body).unwrap()
    }

    fn native_err(body: Value) -> OpenAiError {
        request(body).to_native().unwrap_err()
    }

    fn user(content: &Value) -> Value {
        json!({"model": "m", "messages": [{"role": "user", "content": content}]})
    }

    #[test]
    fn defaults_and_options() {
        let r = request(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "unknown_field": {"x": 1}}));
        assert!(!r.stream);
        let n = r.to_native().unwrap();
        assert_eq!(n.model, "m");
        assert_eq!(n.stream, Some(false));
        assert_eq!(n.messages, vec![Message::new(Role::User, "hi")]);
        let o = n.options.unwrap();
        assert_eq!(o.temperature(), Some(1.0));
        assert_eq!(o.0["top_p"], json!(1.0));
        assert_eq!(o.num_predict(), None);
        assert!(n.think.is_none() && n.format.is_none() && n.tools.is_none());

        let r = request(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 12,
            "seed": 7, "stop": ["a", 3, "b"], "temperature": 0.2, "top_p": 0.5,
            "frequency_penalty": 0.1, "presence_penalty": 0.3}));
        assert!(r.include_usage());
        let n = r.to_native().unwrap();
        assert_eq!(n.stream, Some(true));
        let o = n.options.unwrap();
        assert_eq!(o.num_predict(), Some(12));
        assert_eq!(o.seed(), Some(7));
        assert_eq!(o.stop(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(o.temperature(), Some(0.2));
        assert_eq!(o.0["top_p"], json!(0.5));
        assert_eq!(o.0["frequency_penalty"], json!(0.1));
        assert_eq!(o.0["presence_penalty"], json!(0.3));

        let n = request(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "stop": "END", "stream": null}))
        .to_native()
        .unwrap();
        assert_eq!(n.options.unwrap().stop(), vec!["END".to_owned()]);
        assert_eq!(n.stream, Some(false));
    }

    #[test]
    fn empty_messages_refused() {
        let e = native_err(json!({"model": "m", "messages": []}));
        assert_eq!((e.status, e.message()), (400, "[] is too short - 'messages'"));
        assert!(e.is_invalid_request());
    }

    #[test]
    fn content_parts() {
        let n = request(user(&json!([
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}},
            {"type": "image_url", "image_url": "data:;base64,aGk="},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
        ])))
        .to_native()
        .unwrap();
        assert_eq!(n.messages.len(), 4);
        assert_eq!(n.messages[0], Message::new(Role::User, "what is this?"));
        assert_eq!(n.messages[1].images, Some(vec!["aGVsbG8=".to_owned()]));
        assert_eq!(n.messages[1].content, "");
        assert_eq!(n.messages[2].images, Some(vec!["aGk=".to_owned()]));
        assert_eq!(n.messages[3].images, Some(vec!["AAAA".to_owned()]));
    }

    #[test]
    fn image_errors_are_exact() {
        let url = |u: &str| {
            native_err(user(&json!([{"type": "image_url", "image_url": {"url": u}}]))).to_string()
        };
        assert_eq!(
            url("https://example.invalid/cat.png"),
            "image URLs are not currently supported, please use base64 encoded data instead"
        );
        assert_eq!(
            url("http://example.invalid/cat.png"),
            "image URLs are not currently supported, please use base64 encoded data instead"
        );
        assert_eq!(url("data:image/gif;base64,R0lG"), "invalid image input");
        assert_eq!(url("data:image/png;base64,not base64!"), "invalid message format");
        let e = native_err(user(&json!([{"type": "video", "video": {}}])));
        assert_eq!((e.status, e.message()), (400, "invalid message format"));
    }

    #[test]
    fn tool_calls_in_history() {
        let n = request(json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "reasoning": "look it up", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "name": "explicit", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "f", "arguments": {"a": 1}}}]}
        ]}))
        .to_native()
        .unwrap();
        let call = &n.messages[1].tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.function.name, "get_weather");
        assert_eq!(call.function.arguments, json!({"city": "Tokyo"}));
        assert_eq!(call.id.as_deref(), Some("call_1"));
        assert_eq!(n.messages[1].thinking.as_deref(), Some("look it up"));
        assert_eq!(n.messages[2].tool_name.as_deref(), Some("get_weather"));
        assert_eq!(n.messages[2].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(n.messages[3].tool_name.as_deref(), Some("explicit"));
        let object_args = &n.messages[4].tool_calls.as_ref().unwrap()[0];
        assert_eq!(object_args.function.arguments, json!({"a": 1}));
    }

    #[test]
    fn tool_calls_attach_to_the_last_part() {
        let n = request(json!({"model": "m", "messages": [{"role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}]}))
        .to_native()
        .unwrap();
        assert!(n.messages[0].tool_calls.is_none());
        assert_eq!(n.messages[1].tool_calls.as_ref().unwrap()[0].function.name, "f");
    }

    #[test]
    fn bad_tool_arguments_and_missing_content() {
        for args in ["{not json", "[1]", ""] {
            let e = native_err(json!({"model": "m", "messages": [{"role": "assistant",
                "content": "x", "tool_calls": [{"function": {"name": "f", "arguments": args}}]}]}));
            assert_eq!((e.status, e.message()), (400, "invalid tool call arguments"), "{args}");
        }
        let e = native_err(json!({"model": "m", "messages": [{"role": "user"}]}));
        assert_eq!(e.message(), "invalid message content type: <nil>");
        let e = native_err(json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}));
        assert_eq!(e.status, 400);
        let n = request(json!({"model": "m", "messages": [{"role": "developer", "content": "x"}]}))
            .to_native()
            .unwrap();
        assert_eq!(n.messages[0].role, Role::System);
    }

    #[test]
    fn response_format_and_tools() {
        let base = || json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            request(b).to_native().unwrap()
        };
        assert_eq!(
            with("response_format", json!({"type": "json_object"})).format,
            Some(Format::json())
        );
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_eq!(
            with(
                "response_format",
                json!({"type": "json_schema",
                "json_schema": {"name": "s", "schema": schema.clone()}})
            )
            .format,
            Some(Format(schema))
        );
        assert_eq!(with("response_format", json!({"type": "text"})).format, None);
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {}}}}]);
        let n = with("tools", tools);
        assert_eq!(n.tools.unwrap()[0].function.name, "get_weather");
    }

    #[test]
    fn reasoning_effort_mapping() {
        let think = |field: &str, v: Value| {
            let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
            b[field] = v;
            request(b).to_native().map(|n| n.think)
        };
        let e = |v: &str| think("reasoning_effort", json!(v)).unwrap();
        assert_eq!(e("none"), Some(Think::Enabled(false)));
        assert_eq!(e("minimal"), Some(Think::Level(ThinkLevel::Low)));
        assert_eq!(e("low"), Some(Think::Level(ThinkLevel::Low)));
        assert_eq!(e("medium"), Some(Think::Level(ThinkLevel::Medium)));
        assert_eq!(e("high"), Some(Think::Level(ThinkLevel::High)));
        assert_eq!(e("max"), Some(Think::Level(ThinkLevel::Max)));
        assert_eq!(e("xhigh"), Some(Think::Level(ThinkLevel::Max)));
        assert_eq!(e("ultra"), Some(Think::Level(ThinkLevel::Max)));
        assert_eq!(e(""), None);
        assert_eq!(
            think("reasoning", json!({"effort": "high"})).unwrap(),
            Some(Think::Level(ThinkLevel::High))
        );
        let err = think("reasoning_effort", json!("turbo")).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message().starts_with("invalid reasoning value: 'turbo'"), "{err}");
    }

    fn native_chunk(content: &str) -> ChatResponse {
        ChatResponse {
            model: "llama3.2".to_owned(),
            created_at: "2024-12-24T00:26:40Z".to_owned(),
            message: Message::new(Role::Assistant, content),
            ..ChatResponse::default()
        }
    }

    fn final_chunk() -> ChatResponse {
        ChatResponse {
            done: true,
            done_reason: Some("stop".to_owned()),
            metrics: Metrics {
                prompt_eval_count: Some(26),
                eval_count: Some(3),
                ..Metrics::default()
            },
            ..native_chunk("")
        }
    }

    fn weather_call() -> ToolCall {
        ToolCall {
            id: Some("call_ab12cd34".to_owned()),
            function: ToolCallFunction {
                index: Some(0),
                name: "get_weather".to_owned(),
                arguments: json!({"city": "Tokyo"}),
            },
        }
    }

    #[test]
    fn completion_from_native() {
        let mut native = final_chunk();
        native.message.content = "Hi!".to_owned();
        let c = ChatCompletion::from_native(&native, "chatcmpl-417", 1_735_000_000);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"id": "chatcmpl-417", "object": "chat.completion", "created": 1_735_000_000,
                "model": "llama3.2", "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"},
                    "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29}})
        );

        native.message.thinking = Some("hmm".to_owned());
        native.message.tool_calls = Some(vec![weather_call()]);
        let c = ChatCompletion::from_native(&native, "chatcmpl-1", 1);
        let choice = &c.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(choice.message.reasoning.as_deref(), Some("hmm"));
        assert_eq!(
            serde_json::to_value(&choice.message.tool_calls).unwrap(),
            json!([{"id": "call_ab12cd34", "index": 0, "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}])
        );

        native.message.tool_calls = None;
        native.done_reason = None;
        let c = ChatCompletion::from_native(&native, "chatcmpl-1", 1);
        assert_eq!(serde_json::to_value(&c).unwrap()["choices"][0]["finish_reason"], Value::Null);
    }

    #[test]
    fn stream_follows_the_rules() {
        let mut chunker = ChatChunker::new("chatcmpl-417", 1_735_000_000, true);
        let mut events = Vec::new();
        for native in [native_chunk("Hi"), native_chunk(""), native_chunk("!"), final_chunk()] {
            for chunk in chunker.push(&native) {
                events.push(serde_json::to_value(&chunk).unwrap());
            }
        }
        let deltas: Vec<&Value> = events.iter().map(|e| &e["choices"][0]["delta"]).collect();
        assert_eq!(events.len(), 5);
        assert_eq!(*deltas[0], json!({"role": "assistant", "content": "Hi"}));
        assert_eq!(*deltas[1], json!({"content": ""}));
        assert_eq!(*deltas[2], json!({"content": "!"}));
        assert_eq!(*deltas[3], json!({}));
        assert_eq!(events[3]["choices"][0]["finish_reason"], json!("stop"));
        assert_eq!(events[0]["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(events[4]["choices"], json!([]));
        assert_eq!(
            events[4]["usage"],
            json!({"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29})
        );
        for e in &events {
            assert_eq!(e["id"], "chatcmpl-417");
            assert_eq!(e["created"], 1_735_000_000);
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["system_fingerprint"], "fp_ollama");
        }
        assert!(events[..4].iter().all(|e| e.get("usage").is_none()));
    }

    #[test]
    fn stream_splits_reasoning_and_marks_tool_calls() {
        let mut chunker = ChatChunker::new("c", 1, false);
        let mut thinking = native_chunk("");
        thinking.message.thinking = Some("Let me".to_owned());
        let only_thinking = chunker.push(&thinking);
        assert_eq!(only_thinking.len(), 1);
        assert_eq!(
            serde_json::to_value(&only_thinking[0].choices[0].delta).unwrap(),
            json!({"role": "assistant", "content": "", "reasoning": "Let me"})
        );

        let mut both = native_chunk("");
        both.message.thinking = Some(" see".to_owned());
        both.message.tool_calls = Some(vec![weather_call()]);
        let split = chunker.push(&both);
        assert_eq!(split.len(), 2);
        assert_eq!(
            serde_json::to_value(&split[0].choices[0].delta).unwrap(),
            json!({"content": "", "reasoning": " see"})
        );
        let call_delta = serde_json::to_value(&split[1].choices[0].delta).unwrap();
        assert_eq!(call_delta["content"], "");
        assert_eq!(call_delta["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Tokyo\"}");
        assert_eq!(call_delta["tool_calls"][0]["id"], "call_ab12cd34");

        let end = chunker.push(&final_chunk());
        assert_eq!(end.len(), 1, "no usage chunk without include_usage");
        assert_eq!(end[0].choices[0].finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn final_chunk_with_text_still_gets_a_content_chunk() {
        let mut chunker = ChatChunker::new("c", 1, false);
        let mut last = final_chunk();
        last.message.content = "tail".to_owned();
        let out = chunker.push(&last);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].choices[0].delta.content.as_deref(), Some("tail"));
        assert_eq!(out[0].choices[0].delta.role.as_deref(), Some("assistant"));
        assert_eq!(out[1].choices[0].delta, ChatDelta::default());
    }

    #[test]
    fn base64_check() {
        assert!(is_base64("aGVsbG8="));
        assert!(is_base64("aGk="));
        assert!(is_base64(""));
        assert!(!is_base64("aGk"));
        assert!(!is_base64("a==="));
        assert!(!is_base64("aG=k"));
    }
}
