//! `/v1/responses`, the stateless Responses API (Ollama 0.13.3+): the
//! request and its native form, the response object, and the stream's
//! events.
//!
//! Only what a stateless server can do is accepted: `previous_response_id`
//! (which needs stored responses) is refused with a 400 that says so.
//! Function tools become native tools; other tool types (`web_search`,
//! `file_search`, `local_shell`, freeform `custom`) have no local runner and
//! are not offered to the model.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::chat::{image_data, think_from_effort};
use super::error::OpenAiError;
use crate::wire::{
    ChatRequest, ChatResponse, Format, Message, Metrics, Options, Role, Tool, ToolCall,
    ToolCallFunction, ToolFunction,
};

/// A Responses API request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    /// The model, as the caller spelled it.
    pub model: String,
    /// A string (one user message) or input items.
    pub input: ResponsesInput,
    /// A system message put first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Stream events instead of one object.
    #[serde(default)]
    pub stream: bool,
    /// The most tokens to generate (`num_predict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Tools: `{"type":"function","name","description","parameters"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `"none"` offers no tools; other choices have no native effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// `{"effort": "low"|"medium"|"high"|…}` → `think`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// `{"format": {"type": "json_schema", "schema": …}}` → `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Needs stored responses, which a stateless server has not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
}

/// `input`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResponsesInput {
    /// One user message.
    Text(String),
    /// Messages, function calls and their outputs, reasoning.
    Items(Vec<InputItem>),
}

impl<'de> Deserialize<'de> for ResponsesInput {
    /// By hand, so that a bad item's own error (which names it) is kept.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self::Text(text)),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| D::Error::custom(format!("input.{index}: {e}")))
                })
                .collect::<Result<_, _>>()
                .map(Self::Items),
            _ => Err(D::Error::custom("input: expected a string or an array of items")),
        }
    }
}

impl Default for ResponsesInput {
    fn default() -> Self {
        Self::Items(Vec::new())
    }
}

/// One input item. An item without `type` is a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    /// A message.
    Message {
        /// `user`, `assistant`, `system` or `developer`.
        role: String,
        /// A string or content parts.
        content: InputContent,
    },
    /// A call the model made earlier.
    FunctionCall {
        /// The id its output refers to.
        call_id: String,
        /// The function.
        name: String,
        /// The arguments, JSON text.
        #[serde(default)]
        arguments: String,
    },
    /// The output of a call.
    FunctionCallOutput {
        /// The call answered.
        call_id: String,
        /// What the function returned (text, or parts whose text is taken).
        output: Value,
    },
    /// Earlier reasoning; its summary texts become the next assistant
    /// message's thinking.
    Reasoning {
        /// `[{"type":"summary_text","text":…}]`.
        #[serde(default)]
        summary: Vec<Value>,
    },
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct MessageItem {
            role: String,
            content: InputContent,
        }
        #[derive(Deserialize)]
        #[expect(clippy::struct_field_names, reason = "the wire's field names")]
        struct Call {
            call_id: String,
            name: String,
            #[serde(default)]
            arguments: String,
        }
        #[derive(Deserialize)]
        struct CallOutput {
            call_id: String,
            #[serde(default)]
            output: Value,
        }
        #[derive(Deserialize)]
        struct ReasoningItem {
            #[serde(default)]
            summary: Vec<Value>,
        }
        let value = Value::deserialize(deserializer)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("message").to_owned();
        let item = match kind.as_str() {
            "message" => serde_json::from_value::<MessageItem>(value)
                .map(|m| Self::Message { role: m.role, content: m.content }),
            "function_call" => serde_json::from_value::<Call>(value).map(|c| Self::FunctionCall {
                call_id: c.call_id,
                name: c.name,
                arguments: c.arguments,
            }),
            "function_call_output" => serde_json::from_value::<CallOutput>(value)
                .map(|o| Self::FunctionCallOutput { call_id: o.call_id, output: o.output }),
            "reasoning" => serde_json::from_value::<ReasoningItem>(value)
                .map(|r| Self::Reasoning { summary: r.summary }),
            other => {
                return Err(D::Error::custom(format!(
                    "input item type '{other}' is not one of message, function_call, function_call_output, reasoning"
                )));
            }
        };
        item.map_err(D::Error::custom)
    }
}

/// A message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputContent {
    /// Text.
    Text(String),
    /// `input_text`, `output_text`, `input_image`, `refusal` parts.
    Parts(Vec<InputPart>),
}

/// A content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputPart {
    /// The caller's text.
    InputText {
        /// The text.
        text: String,
    },
    /// An earlier answer's text.
    OutputText {
        /// The text.
        text: String,
    },
    /// An image as a data URL.
    InputImage {
        /// `data:image/…;base64,…`.
        #[serde(default)]
        image_url: Option<String>,
    },
    /// An earlier refusal.
    Refusal {
        /// Its text.
        refusal: String,
    },
}

/// `reasoning`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

/// `text`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// The output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

/// `text.format`: `text`, `json_object`, or `json_schema` with its schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextFormat {
    /// The format's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The JSON schema, for `json_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

impl ResponsesRequest {
    /// The native chat request: `instructions` as the system message, then
    /// the items in order (a function call joins the assistant message
    /// before it, its output is a `tool` message named after the call);
    /// `max_output_tokens` → `num_predict`; function tools as native ones;
    /// `reasoning.effort` → `think`; `text.format` → `format`.
    ///
    /// # Errors
    ///
    /// A 400 [`OpenAiError`] naming the item or field: `previous_response_id`,
    /// no input, an unknown role, an image that is not a base64 data URL,
    /// invalid call arguments, an unknown reasoning effort.
    pub fn to_native(&self) -> Result<ChatRequest, OpenAiError> {
        if self.previous_response_id.is_some() {
            return Err(OpenAiError::invalid_request(
                "previous_response_id: this server keeps no responses; send the whole conversation as input",
            ));
        }
        let mut messages = Vec::new();
        if let Some(instructions) = self.instructions.as_ref().filter(|i| !i.is_empty()) {
            messages.push(Message::new(Role::System, instructions.clone()));
        }
        match &self.input {
            ResponsesInput::Text(text) => messages.push(Message::new(Role::User, text.clone())),
            ResponsesInput::Items(items) => {
                let mut thinking = None;
                for (index, item) in items.iter().enumerate() {
                    convert_item(item, index, items, &mut thinking, &mut messages)?;
                }
            }
        }
        if !messages.iter().any(|m| m.role != Role::System) {
            return Err(OpenAiError::invalid_request("input: at least one item is required"));
        }

        let mut options = Map::new();
        if let Some(max) = self.max_output_tokens {
            options.insert("num_predict".to_owned(), max.into());
        }
        for (key, value) in [("temperature", self.temperature), ("top_p", self.top_p)] {
            if let Some(number) = value.and_then(serde_json::Number::from_f64) {
                options.insert(key.to_owned(), Value::Number(number));
            }
        }
        let none_chosen = self.tool_choice.as_ref().is_some_and(|c| c == "none");
        let tools: Vec<Tool> = if none_chosen {
            Vec::new()
        } else {
            self.tools.iter().flatten().filter_map(function_tool).collect()
        };
        let think = match self.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
            Some(effort) => think_from_effort(effort)?,
            None => None,
        };
        let format = self.text.as_ref().and_then(|t| t.format.as_ref()).and_then(|f| {
            match f.kind.as_str() {
                "json_object" => Some(Format::json()),
                "json_schema" => f.schema.clone().filter(|s| !s.is_null()).map(Format),
                _ => None,
            }
        });
        Ok(ChatRequest {
            model: self.model.clone(),
            messages,
            tools: Some(tools).filter(|t| !t.is_empty()),
            format,
            options: Some(Options(options)),
            stream: Some(self.stream),
            think,
            ..ChatRequest::default()
        })
    }
}

/// A function tool as a native one; other types are not offered.
fn function_tool(tool: &Value) -> Option<Tool> {
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return None;
    }
    Some(Tool {
        kind: "function".to_owned(),
        function: ToolFunction {
            name: tool.get("name")?.as_str()?.to_owned(),
            description: tool.get("description").and_then(Value::as_str).map(str::to_owned),
            parameters: tool.get("parameters").cloned().unwrap_or(Value::Null),
        },
    })
}

fn convert_item(
    item: &InputItem,
    index: usize,
    all: &[InputItem],
    thinking: &mut Option<String>,
    out: &mut Vec<Message>,
) -> Result<(), OpenAiError> {
    match item {
        InputItem::Message { role, content } => {
            let role = match role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "system" | "developer" => Role::System,
                other => {
                    return Err(OpenAiError::invalid_request(format!(
                        "input.{index}.role: '{other}' is not user, assistant, system or developer"
                    )));
                }
            };
            let (text, images) = match content {
                InputContent::Text(text) => (text.clone(), Vec::new()),
                InputContent::Parts(parts) => parts_text(parts, index)?,
            };
            out.push(Message {
                role,
                content: text,
                images: Some(images).filter(|i| !i.is_empty()),
                thinking: if role == Role::Assistant { thinking.take() } else { None },
                ..Message::default()
            });
        }
        InputItem::FunctionCall { call_id, name, arguments } => {
            let arguments = match serde_json::from_str::<Value>(arguments) {
                Ok(Value::Null) => Value::Object(Map::new()),
                Ok(value @ Value::Object(_)) => value,
                _ if arguments.trim().is_empty() => Value::Object(Map::new()),
                _ => {
                    return Err(OpenAiError::invalid_request(format!(
                        "input.{index}.arguments: not a JSON object"
                    )));
                }
            };
            let call = ToolCall {
                id: Some(call_id.clone()),
                function: ToolCallFunction { index: None, name: name.clone(), arguments },
            };
            // Calls made in one turn belong to one assistant message.
            match out.last_mut() {
                Some(last)
                    if last.role == Role::Assistant
                        && (last.tool_calls.is_some() || !last.content.is_empty()) =>
                {
                    last.tool_calls.get_or_insert_with(Vec::new).push(call);
                }
                _ => out.push(Message {
                    role: Role::Assistant,
                    thinking: thinking.take(),
                    tool_calls: Some(vec![call]),
                    ..Message::default()
                }),
            }
        }
        InputItem::FunctionCallOutput { call_id, output } => {
            let content = match output {
                Value::String(text) => text.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let tool_name = all.iter().find_map(|item| match item {
                InputItem::FunctionCall { call_id: id, name, .. } if id == call_id => {
                    Some(name.clone())
                }
                _ => None,
            });
            out.push(Message {
                role: Role::Tool,
                content,
                tool_name,
                tool_call_id: Some(call_id.clone()),
                ..Message::default()
            });
        }
        InputItem::Reasoning { summary } => {
            let text: Vec<&str> =
                summary.iter().filter_map(|s| s.get("text").and_then(Value::as_str)).collect();
            if !text.is_empty() {
                *thinking = Some(text.join("\n"));
            }
        }
    }
    Ok(())
}

fn parts_text(parts: &[InputPart], index: usize) -> Result<(String, Vec<String>), OpenAiError> {
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (position, part) in parts.iter().enumerate() {
        match part {
            InputPart::InputText { text } | InputPart::OutputText { text } => {
                texts.push(text.as_str());
            }
            InputPart::Refusal { refusal } => texts.push(refusal.as_str()),
            InputPart::InputImage { image_url } => {
                let url = image_url.as_deref().ok_or_else(|| {
                    OpenAiError::invalid_request(format!(
                        "input.{index}.content.{position}: an image needs an image_url (file ids are not supported)"
                    ))
                })?;
                images.push(image_data(url).map_err(|e| {
                    OpenAiError::invalid_request(format!(
                        "input.{index}.content.{position}: {}",
                        e.message()
                    ))
                })?);
            }
        }
    }
    Ok((texts.join("\n"), images))
}

// === The response ===

/// The response object, whole or as the stream's events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// `resp_<n>`.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `in_progress`, `completed`, `incomplete` or `failed`.
    pub status: String,
    /// The model as requested.
    pub model: String,
    /// Reasoning, the message, function calls.
    pub output: Vec<OutputItem>,
    /// Why it is `incomplete` (`{"reason":"max_output_tokens"}`).
    pub incomplete_details: Option<Value>,
    /// The failure of a `failed` response.
    pub error: Option<Value>,
    /// Token counts, once known.
    pub usage: Option<ResponseUsage>,
}

/// An output item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// Reasoning, as a summary.
    Reasoning {
        /// `rs_…`.
        id: String,
        /// `[{"type":"summary_text","text":…}]`.
        summary: Vec<SummaryText>,
    },
    /// The answer's text.
    Message {
        /// `msg_…`.
        id: String,
        /// `in_progress` or `completed`.
        status: String,
        /// Always `assistant`.
        role: String,
        /// `output_text` parts.
        content: Vec<OutputText>,
    },
    /// A function call.
    FunctionCall {
        /// `fc_…`.
        id: String,
        /// The id the caller answers with `function_call_output`.
        call_id: String,
        /// The function.
        name: String,
        /// The arguments, JSON text.
        arguments: String,
        /// `in_progress` or `completed`.
        status: String,
    },
}

/// A reasoning summary part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryText {
    /// Always `summary_text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub text: String,
}

/// An `output_text` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub text: String,
    /// Always empty.
    pub annotations: Vec<Value>,
}

impl OutputText {
    fn new(text: impl Into<String>) -> Self {
        Self { kind: "output_text".to_owned(), text: text.into(), annotations: Vec::new() }
    }
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

impl ResponseUsage {
    fn from_metrics(metrics: &Metrics) -> Self {
        let input = metrics.prompt_eval_count.unwrap_or(0);
        let output = metrics.eval_count.unwrap_or(0);
        Self { input_tokens: input, output_tokens: output, total_tokens: input + output }
    }
}

impl ResponseObject {
    /// A response with no output yet.
    pub fn in_progress(id: impl Into<String>, model: impl Into<String>, created_at: i64) -> Self {
        Self {
            id: id.into(),
            object: "response".to_owned(),
            created_at,
            status: "in_progress".to_owned(),
            model: model.into(),
            output: Vec::new(),
            incomplete_details: None,
            error: None,
            usage: None,
        }
    }

    /// The whole response for a native chat answer.
    pub fn from_native(native: &ChatResponse, id: &str, created_at: i64) -> Self {
        let mut builder = Builder::new(id, native.model.clone(), created_at);
        builder.push(native);
        builder.response
    }

    /// The concatenated text of every `output_text` part.
    pub fn output_text(&self) -> String {
        let mut text = String::new();
        for item in &self.output {
            if let OutputItem::Message { content, .. } = item {
                for part in content {
                    text.push_str(&part.text);
                }
            }
        }
        text
    }

    fn finish(&mut self, native: &ChatResponse) {
        self.usage = Some(ResponseUsage::from_metrics(&native.metrics));
        if native.done_reason.as_deref() == Some("length") {
            "incomplete".clone_into(&mut self.status);
            self.incomplete_details = Some(serde_json::json!({"reason": "max_output_tokens"}));
        } else {
            "completed".clone_into(&mut self.status);
        }
    }
}

/// One event of a Responses stream. Serialised with its `type` and its
/// `sequence_number`; framed by [`ResponsesStreamer`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ResponseEvent {
    /// The response exists.
    #[serde(rename = "response.created")]
    Created {
        /// The response, in progress.
        response: ResponseObject,
    },
    /// The response is being generated.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// The response, in progress.
        response: ResponseObject,
    },
    /// An output item begins.
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        /// Its position in `output`.
        output_index: usize,
        /// The item, empty.
        item: OutputItem,
    },
    /// An output item is complete.
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        /// Its position.
        output_index: usize,
        /// The whole item.
        item: OutputItem,
    },
    /// A reasoning summary part begins.
    #[serde(rename = "response.reasoning_summary_part.added")]
    SummaryPartAdded {
        /// The reasoning item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        summary_index: usize,
        /// The part, empty.
        part: SummaryText,
    },
    /// More reasoning.
    #[serde(rename = "response.reasoning_summary_text.delta")]
    SummaryDelta {
        /// The reasoning item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        summary_index: usize,
        /// The text added.
        delta: String,
    },
    /// The reasoning text is complete.
    #[serde(rename = "response.reasoning_summary_text.done")]
    SummaryDone {
        /// The reasoning item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        summary_index: usize,
        /// The whole text.
        text: String,
    },
    /// The reasoning summary part is complete.
    #[serde(rename = "response.reasoning_summary_part.done")]
    SummaryPartDone {
        /// The reasoning item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        summary_index: usize,
        /// The whole part.
        part: SummaryText,
    },
    /// A text part begins.
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        /// The message item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        content_index: usize,
        /// The part, empty.
        part: OutputText,
    },
    /// More text.
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        /// The message item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        content_index: usize,
        /// The text added.
        delta: String,
    },
    /// The text is complete.
    #[serde(rename = "response.output_text.done")]
    TextDone {
        /// The message item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        content_index: usize,
        /// The whole text.
        text: String,
    },
    /// The text part is complete.
    #[serde(rename = "response.content_part.done")]
    PartDone {
        /// The message item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// Always 0.
        content_index: usize,
        /// The whole part.
        part: OutputText,
    },
    /// A call's arguments (sent whole: Ollama parses calls whole).
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        /// The call item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// The arguments' JSON text.
        delta: String,
    },
    /// A call's arguments are complete.
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        /// The call item.
        item_id: String,
        /// Its position.
        output_index: usize,
        /// The whole arguments.
        arguments: String,
    },
    /// The response is complete.
    #[serde(rename = "response.completed")]
    Completed {
        /// The whole response.
        response: ResponseObject,
    },
    /// The response stopped at `max_output_tokens`.
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// The whole response.
        response: ResponseObject,
    },
    /// A failure after the stream began.
    #[serde(rename = "error")]
    Error {
        /// `server_error`.
        code: String,
        /// What failed.
        message: String,
        /// Always `null`.
        param: Option<String>,
    },
}

impl ResponseEvent {
    /// The event's `type`, for its `event:` line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::ItemAdded { .. } => "response.output_item.added",
            Self::ItemDone { .. } => "response.output_item.done",
            Self::SummaryPartAdded { .. } => "response.reasoning_summary_part.added",
            Self::SummaryDelta { .. } => "response.reasoning_summary_text.delta",
            Self::SummaryDone { .. } => "response.reasoning_summary_text.done",
            Self::SummaryPartDone { .. } => "response.reasoning_summary_part.done",
            Self::PartAdded { .. } => "response.content_part.added",
            Self::TextDelta { .. } => "response.output_text.delta",
            Self::TextDone { .. } => "response.output_text.done",
            Self::PartDone { .. } => "response.content_part.done",
            Self::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::ArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Error { .. } => "error",
        }
    }
}

/// The kind of the open output item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Reasoning,
    Text,
}

/// Builds the response object from native chunks and says, per chunk, what
/// changed (the events); one builder serves the whole answer and the stream.
#[derive(Debug, Clone)]
struct Builder {
    response: ResponseObject,
    open: Option<Open>,
    calls: usize,
}

impl Builder {
    fn new(id: &str, model: String, created_at: i64) -> Self {
        Self { response: ResponseObject::in_progress(id, model, created_at), open: None, calls: 0 }
    }

    fn item_id(&self, prefix: &str) -> String {
        let base = self.response.id.strip_prefix("resp_").unwrap_or(&self.response.id);
        format!("{prefix}_{base}_{}", self.response.output.len())
    }

    /// Applies one native chunk; returns its events (empty for a whole
    /// answer's caller, which only wants the object).
    fn push(&mut self, native: &ChatResponse) -> Vec<ResponseEvent> {
        let mut out = Vec::new();
        if let Some(thinking) = native.message.thinking.as_ref().filter(|t| !t.is_empty()) {
            let (item_id, output_index) = self.open_item(Open::Reasoning, &mut out);
            if let Some(OutputItem::Reasoning { summary, .. }) = self.response.output.last_mut() {
                summary[0].text.push_str(thinking);
            }
            out.push(ResponseEvent::SummaryDelta {
                item_id,
                output_index,
                summary_index: 0,
                delta: thinking.clone(),
            });
        }
        if !native.message.content.is_empty() {
            let (item_id, output_index) = self.open_item(Open::Text, &mut out);
            if let Some(OutputItem::Message { content, .. }) = self.response.output.last_mut() {
                content[0].text.push_str(&native.message.content);
            }
            out.push(ResponseEvent::TextDelta {
                item_id,
                output_index,
                content_index: 0,
                delta: native.message.content.clone(),
            });
        }
        for call in native.message.tool_calls.iter().flatten() {
            self.close_item(&mut out);
            let output_index = self.response.output.len();
            let id = self.item_id("fc");
            let call_id = call
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{}", id.strip_prefix("fc_").unwrap_or(&id)));
            let arguments = match &call.function.arguments {
                Value::Null => "{}".to_owned(),
                other => other.to_string(),
            };
            let item = |arguments: String, status: &str| OutputItem::FunctionCall {
                id: id.clone(),
                call_id: call_id.clone(),
                name: call.function.name.clone(),
                arguments,
                status: status.to_owned(),
            };
            out.push(ResponseEvent::ItemAdded {
                output_index,
                item: item(String::new(), "in_progress"),
            });
            out.push(ResponseEvent::ArgumentsDelta {
                item_id: id.clone(),
                output_index,
                delta: arguments.clone(),
            });
            out.push(ResponseEvent::ArgumentsDone {
                item_id: id.clone(),
                output_index,
                arguments: arguments.clone(),
            });
            let done = item(arguments, "completed");
            self.response.output.push(done.clone());
            out.push(ResponseEvent::ItemDone { output_index, item: done });
            self.calls += 1;
        }
        if native.done {
            self.close_item(&mut out);
            self.response.finish(native);
        }
        out
    }

    /// Opens an item of `kind` unless it is open; returns its id and index.
    fn open_item(&mut self, kind: Open, out: &mut Vec<ResponseEvent>) -> (String, usize) {
        if self.open != Some(kind) {
            self.close_item(out);
            self.open = Some(kind);
            let output_index = self.response.output.len();
            let (item, id) = match kind {
                Open::Reasoning => {
                    let id = self.item_id("rs");
                    (OutputItem::Reasoning { id: id.clone(), summary: Vec::new() }, id)
                }
                Open::Text => {
                    let id = self.item_id("msg");
                    let item = OutputItem::Message {
                        id: id.clone(),
                        status: "in_progress".to_owned(),
                        role: "assistant".to_owned(),
                        content: Vec::new(),
                    };
                    (item, id)
                }
            };
            out.push(ResponseEvent::ItemAdded { output_index, item: item.clone() });
            let mut item = item;
            match &mut item {
                OutputItem::Reasoning { summary, .. } => {
                    let part = summary_text("");
                    out.push(ResponseEvent::SummaryPartAdded {
                        item_id: id.clone(),
                        output_index,
                        summary_index: 0,
                        part: part.clone(),
                    });
                    summary.push(part);
                }
                OutputItem::Message { content, .. } => {
                    let part = OutputText::new("");
                    out.push(ResponseEvent::PartAdded {
                        item_id: id.clone(),
                        output_index,
                        content_index: 0,
                        part: part.clone(),
                    });
                    content.push(part);
                }
                OutputItem::FunctionCall { .. } => {}
            }
            self.response.output.push(item);
        }
        let output_index = self.response.output.len() - 1;
        let id = match &self.response.output[output_index] {
            OutputItem::Reasoning { id, .. }
            | OutputItem::Message { id, .. }
            | OutputItem::FunctionCall { id, .. } => id.clone(),
        };
        (id, output_index)
    }

    fn close_item(&mut self, out: &mut Vec<ResponseEvent>) {
        if self.open.take().is_none() {
            return;
        }
        let output_index = self.response.output.len() - 1;
        let item = &mut self.response.output[output_index];
        match item {
            OutputItem::Reasoning { id, summary } => {
                let part = summary[0].clone();
                out.push(ResponseEvent::SummaryDone {
                    item_id: id.clone(),
                    output_index,
                    summary_index: 0,
                    text: part.text.clone(),
                });
                out.push(ResponseEvent::SummaryPartDone {
                    item_id: id.clone(),
                    output_index,
                    summary_index: 0,
                    part,
                });
            }
            OutputItem::Message { id, status, content, .. } => {
                let part = content[0].clone();
                out.push(ResponseEvent::TextDone {
                    item_id: id.clone(),
                    output_index,
                    content_index: 0,
                    text: part.text.clone(),
                });
                out.push(ResponseEvent::PartDone {
                    item_id: id.clone(),
                    output_index,
                    content_index: 0,
                    part,
                });
                "completed".clone_into(status);
            }
            OutputItem::FunctionCall { .. } => {}
        }
        out.push(ResponseEvent::ItemDone { output_index, item: item.clone() });
    }
}

fn summary_text(text: &str) -> SummaryText {
    SummaryText { kind: "summary_text".to_owned(), text: text.to_owned() }
}

/// Turns one native chat stream into Responses events, each framed as
/// `event: <type>\ndata: <json>\n\n` with a growing `sequence_number`:
/// `response.created` and `response.in_progress` first; per item
/// `output_item.added`, its part's `added`, deltas, `done`s; then
/// `response.completed` (or `response.incomplete` on `length`) with the
/// whole response.
#[derive(Debug, Clone)]
pub struct ResponsesStreamer {
    builder: Builder,
    started: bool,
    sequence: u64,
}

impl ResponsesStreamer {
    /// A streamer for the response `id` (`resp_…`) created at `created_at`.
    pub fn new(id: &str, model: impl Into<String>, created_at: i64) -> Self {
        Self { builder: Builder::new(id, model.into(), created_at), started: false, sequence: 0 }
    }

    /// The framed events for the next native chunk; the flag is true once
    /// the response is complete.
    pub fn push(&mut self, native: &ChatResponse) -> (String, bool) {
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            native.model.clone_into(&mut self.builder.response.model);
            let response = self.builder.response.clone();
            events.push(ResponseEvent::Created { response: response.clone() });
            events.push(ResponseEvent::InProgress { response });
        }
        events.extend(self.builder.push(native));
        if native.done {
            let response = self.builder.response.clone();
            events.push(if response.status == "incomplete" {
                ResponseEvent::Incomplete { response }
            } else {
                ResponseEvent::Completed { response }
            });
        }
        let mut out = String::new();
        for event in &events {
            self.frame(event, &mut out);
        }
        (out, native.done)
    }

    /// The framed `error` event for a failure after the stream began.
    pub fn error(&mut self, message: &str) -> String {
        let mut out = String::new();
        let event = ResponseEvent::Error {
            code: "server_error".to_owned(),
            message: message.to_owned(),
            param: None,
        };
        self.frame(&event, &mut out);
        out
    }

    fn frame(&mut self, event: &ResponseEvent, out: &mut String) {
        let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("sequence_number".to_owned(), self.sequence.into());
        }
        self.sequence += 1;
        out.push_str("event: ");
        out.push_str(event.name());
        out.push_str("\ndata: ");
        out.push_str(&value.to_string());
        out.push_str("\n\n");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn native(body: Value) -> Result<ChatRequest, OpenAiError> {
        serde_json::from_value::<ResponsesRequest>(body).unwrap().to_native()
    }

    #[test]
    fn input_items_become_messages() {
        let request = native(json!({
            "model": "m", "instructions": "be brief", "max_output_tokens": 16,
            "reasoning": {"effort": "low"},
            "tools": [{"type":"function","name":"ls","parameters":{"type":"object"}},
                      {"type":"web_search"}],
            "input": [
                {"role":"user","content":[{"type":"input_text","text":"list"}]},
                {"type":"reasoning","summary":[{"type":"summary_text","text":"use ls"}]},
                {"type":"function_call","call_id":"c1","name":"ls","arguments":"{\"d\":\".\"}"},
                {"type":"function_call_output","call_id":"c1","output":"a b"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"a, b"}]},
                {"role":"user","content":"thanks"},
            ],
        }))
        .unwrap();
        let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::Tool, Role::Assistant, Role::User]
        );
        let call = &request.messages[2];
        assert_eq!(call.thinking.as_deref(), Some("use ls"));
        let calls = call.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.arguments, json!({"d":"."}));
        assert_eq!(request.messages[3].tool_name.as_deref(), Some("ls"));
        assert_eq!(request.messages[3].content, "a b");
        assert_eq!(request.tools.as_ref().unwrap().len(), 1);
        assert_eq!(request.options.as_ref().unwrap().num_predict(), Some(16));
        assert!(request.think.is_some());
        assert_eq!(request.stream, Some(false));
    }

    #[test]
    fn refusals_name_the_place() {
        let stateful =
            native(json!({"model":"m","input":"x","previous_response_id":"resp_1"})).unwrap_err();
        assert!(stateful.message().starts_with("previous_response_id"), "{stateful:?}");
        let empty = native(json!({"model":"m","input":[]})).unwrap_err();
        assert!(empty.message().starts_with("input:"), "{empty:?}");
        let role =
            native(json!({"model":"m","input":[{"role":"robot","content":"x"}]})).unwrap_err();
        assert!(role.message().starts_with("input.0.role"), "{role:?}");
        let image = native(json!({"model":"m","input":[{"role":"user","content":[
            {"type":"input_image","image_url":"https://x/y.png"}]}]}))
        .unwrap_err();
        assert!(image.message().starts_with("input.0.content.0"), "{image:?}");
        let kind = serde_json::from_value::<ResponsesRequest>(
            json!({"model":"m","input":[{"type":"computer_call"}]}),
        )
        .unwrap_err();
        assert!(kind.to_string().contains("computer_call"), "{kind}");
    }

    fn chunk(value: Value) -> ChatResponse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn stream_events_in_order_and_whole_response_agree() {
        let lines = [
            json!({"model":"m","message":{"role":"assistant","content":"","thinking":"hm"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":" there"},"done":false}),
            json!({"model":"m","message":{"role":"assistant","content":""},"done":true,
                "done_reason":"stop","prompt_eval_count":3,"eval_count":2}),
        ];
        let mut streamer = ResponsesStreamer::new("resp_7", "m", 5);
        let mut text = String::new();
        for line in &lines {
            text.push_str(&streamer.push(&chunk(line.clone())).0);
        }
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.split_once("data: ").unwrap().1).unwrap())
            .collect();
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let sequence: Vec<u64> =
            events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(sequence, (0..16).collect::<Vec<_>>());
        let completed = &events[15]["response"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(
            completed["usage"],
            json!({"input_tokens":3,"output_tokens":2,"total_tokens":5})
        );
        assert_eq!(completed["output"][1]["content"][0]["text"], "Hi there");

        // The whole answer of the same chunks, merged, is the same object.
        let whole = chunk(json!({"model":"m","message":{"role":"assistant","content":"Hi there",
            "thinking":"hm"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":2}));
        let object = ResponseObject::from_native(&whole, "resp_7", 5);
        assert_eq!(serde_json::to_value(&object).unwrap(), *completed);
        assert_eq!(object.output_text(), "Hi there");
    }

    #[test]
    fn calls_and_length() {
        let whole = chunk(json!({"model":"m","message":{"role":"assistant","content":"",
            "tool_calls":[{"function":{"name":"ls","arguments":{"d":"."}}}]},
            "done":true,"done_reason":"length"}));
        let object = ResponseObject::from_native(&whole, "resp_1", 0);
        assert_eq!(object.status, "incomplete");
        assert_eq!(
            serde_json::to_value(&object.output[0]).unwrap(),
            json!({"type":"function_call","id":"fc_1_0","call_id":"call_1_0","name":"ls",
                "arguments":"{\"d\":\".\"}","status":"completed"})
        );
        let mut streamer = ResponsesStreamer::new("resp_1", "m", 0);
        let (text, done) = streamer.push(&whole);
        assert!(done);
        assert!(text.contains("event: response.function_call_arguments.done\n"));
        assert!(text.trim_end().ends_with('}'));
        assert!(text.contains("event: response.incomplete\n"));
        assert!(streamer.error("boom").starts_with("event: error\ndata: {"));
    }
}
