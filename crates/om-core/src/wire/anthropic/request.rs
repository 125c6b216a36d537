//! The `/v1/messages` request and its native form.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::AnthropicError;
use crate::wire::{
    ChatRequest, Message, Options, Role, Think, Tool, ToolCall, ToolCallFunction, ToolFunction,
};

/// A Messages API request. Unknown fields (`metadata`, `cache_control`
/// on blocks, `service_tier`, …) are accepted and ignored: they change
/// nothing a local model does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// The model, as the caller spelled it.
    pub model: String,
    /// The most tokens to generate (`num_predict`). Anthropic requires it;
    /// a missing one means no limit here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// The conversation, alternating `user` and `assistant`.
    pub messages: Vec<InputMessage>,
    /// The system prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    /// Stream events instead of one object (Anthropic's default is not to).
    #[serde(default)]
    pub stream: bool,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// Strings that end generation (`options.stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDefinition>>,
    /// `{"type":"auto"|"any"|"tool"|"none"}`: only `none` has a native
    /// effect (the tools are not offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Extended thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
}

/// The system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SystemPrompt {
    /// One string.
    Text(String),
    /// Text blocks, joined with blank lines.
    Blocks(Vec<TextBlock>),
}

/// A text block of a system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text.
    pub text: String,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// A string or content blocks.
    pub content: InputContent,
}

/// The content of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputContent {
    /// Plain text.
    Text(String),
    /// Content blocks.
    Blocks(Vec<ContentBlock>),
}

/// A content block of a turn. A type not listed is refused by the decoder
/// with its name (`unknown variant 'document'`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// Where the image is.
        source: ImageSource,
    },
    /// A call the assistant made.
    ToolUse {
        /// The call's id, answered by a `tool_result`.
        id: String,
        /// The tool.
        name: String,
        /// The arguments object.
        #[serde(default)]
        input: Value,
    },
    /// The answer to a call.
    ToolResult {
        /// The id of the call answered.
        tool_use_id: String,
        /// What the tool returned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        /// The tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// The assistant's reasoning on an earlier turn.
    Thinking {
        /// The reasoning text.
        thinking: String,
        /// Anthropic's integrity signature (meaningless to a local model).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning Anthropic encrypted; nothing a local model can read.
    RedactedThinking {
        /// The opaque data.
        #[serde(default)]
        data: String,
    },
}

/// An image's source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline data.
    Base64 {
        /// `image/png`, `image/jpeg`, …
        #[serde(default)]
        media_type: String,
        /// The base64 payload.
        data: String,
    },
    /// A URL, which Ollama does not fetch.
    Url {
        /// The address.
        url: String,
    },
}

/// What a tool returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Text.
    Text(String),
    /// Text and image blocks.
    Blocks(Vec<ContentBlock>),
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// `custom` (or absent) for a client tool; Anthropic's server tools
    /// (`web_search_…`, `bash_…`) have other types and no local meaning.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The tool's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema of its input.
    #[serde(default)]
    pub input_schema: Value,
}

/// `thinking`: `{"type":"enabled","budget_tokens":N}`, `disabled` or
/// `adaptive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThinkingConfig {
    /// `enabled`, `disabled` or `adaptive`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The reasoning budget (no native counterpart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
}

impl MessagesRequest {
    /// The native chat request: the system prompt first, each `user` turn's
    /// tool results as `tool` messages (named after the call they answer)
    /// followed by its text and images, each `assistant` turn's text,
    /// thinking and tool calls as one message; `max_tokens` → `num_predict`,
    /// `stop_sequences` → `stop`, `temperature`, `top_p`, `top_k` as they
    /// are; tools as native functions (none when `tool_choice` is `none`);
    /// `thinking` → `think` (`enabled` and `adaptive` on, `disabled` off).
    ///
    /// # Errors
    ///
    /// A 400 [`AnthropicError`] naming the problem: no messages, a role
    /// other than `user` or `assistant`, an image given by URL or not in
    /// base64, a server tool, or an unknown thinking type.
    pub fn to_native(&self) -> Result<ChatRequest, AnthropicError> {
        if self.messages.is_empty() {
            return Err(AnthropicError::invalid_request(
                "messages: at least one message is required",
            ));
        }
        let mut messages = Vec::with_capacity(self.messages.len() + 1);
        if let Some(system) = self.system.as_ref().map(SystemPrompt::text)
            && !system.is_empty()
        {
            messages.push(Message::new(Role::System, system));
        }
        for (index, turn) in self.messages.iter().enumerate() {
            convert_turn(turn, index, &self.messages, &mut messages)?;
        }

        let mut options = Map::new();
        if let Some(max) = self.max_tokens {
            options.insert("num_predict".to_owned(), max.into());
        }
        put_f64(&mut options, "temperature", self.temperature);
        put_f64(&mut options, "top_p", self.top_p);
        if let Some(top_k) = self.top_k {
            options.insert("top_k".to_owned(), top_k.into());
        }
        if let Some(stop) = self.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
            options.insert("stop".to_owned(), stop.clone().into());
        }

        let none_chosen = self
            .tool_choice
            .as_ref()
            .and_then(|choice| choice.get("type"))
            .is_some_and(|kind| kind == "none");
        let tools = match &self.tools {
            Some(tools) if !tools.is_empty() && !none_chosen => {
                Some(tools.iter().map(native_tool).collect::<Result<Vec<_>, _>>()?)
            }
            _ => None,
        };
        let think = match self.thinking.as_ref().map(|t| t.kind.as_str()) {
            None => None,
            Some("enabled" | "adaptive") => Some(Think::Enabled(true)),
            Some("disabled") => Some(Think::Enabled(false)),
            Some(other) => {
                return Err(AnthropicError::invalid_request(format!(
                    "thinking.type: '{other}' is not one of 'enabled', 'disabled', 'adaptive'"
                )));
            }
        };
        Ok(ChatRequest {
            model: self.model.clone(),
            messages,
            tools,
            options: Some(Options(options)),
            stream: Some(self.stream),
            think,
            ..ChatRequest::default()
        })
    }
}

impl SystemPrompt {
    /// The prompt as one text.
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Blocks(blocks) => {
                blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n")
            }
        }
    }
}

fn put_f64(options: &mut Map<String, Value>, key: &str, value: Option<f64>) {
    if let Some(number) = value.and_then(serde_json::Number::from_f64) {
        options.insert(key.to_owned(), Value::Number(number));
    }
}

fn native_tool(tool: &ToolDefinition) -> Result<Tool, AnthropicError> {
    if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
        return Err(AnthropicError::invalid_request(format!(
            "tools: '{}' is a server tool of type '{kind}', which no local model runs",
            tool.name
        )));
    }
    Ok(Tool {
        kind: "function".to_owned(),
        function: ToolFunction {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters: tool.input_schema.clone(),
        },
    })
}

/// Appends the native messages for the turn at `index`.
fn convert_turn(
    turn: &InputMessage,
    index: usize,
    all: &[InputMessage],
    out: &mut Vec<Message>,
) -> Result<(), AnthropicError> {
    let role = match turn.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        // Not in Anthropic's API, but Claude Code sends reminders this way
        // and Ollama's layer takes them as system text.
        "system" => Role::System,
        other => {
            return Err(AnthropicError::invalid_request(format!(
                "messages.{index}.role: '{other}' is not 'user', 'assistant' or 'system'"
            )));
        }
    };
    let blocks = match &turn.content {
        InputContent::Text(text) => {
            out.push(Message::new(role, text.clone()));
            return Ok(());
        }
        InputContent::Blocks(blocks) => blocks,
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    let mut thinking = Vec::new();
    let mut calls = Vec::new();
    for (position, block) in blocks.iter().enumerate() {
        let at = || format!("messages.{index}.content.{position}");
        match block {
            ContentBlock::Text { text } => texts.push(text.as_str()),
            ContentBlock::Image { source } => images.push(image_data(source, &at())?),
            ContentBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id: Some(id.clone()),
                function: ToolCallFunction {
                    index: Some(u32::try_from(calls.len()).unwrap_or(u32::MAX)),
                    name: name.clone(),
                    arguments: match input {
                        Value::Null => Value::Object(Map::new()),
                        other => other.clone(),
                    },
                },
            }),
            ContentBlock::ToolResult { tool_use_id, content, .. } => {
                let (text, result_images) = tool_result(content.as_ref(), &at())?;
                out.push(Message {
                    role: Role::Tool,
                    content: text,
                    images: Some(result_images).filter(|i| !i.is_empty()),
                    tool_name: tool_name_for(all, tool_use_id),
                    tool_call_id: Some(tool_use_id.clone()),
                    ..Message::default()
                });
            }
            ContentBlock::Thinking { thinking: text, .. } => thinking.push(text.as_str()),
            ContentBlock::RedactedThinking { .. } => {}
        }
    }
    let has_body = !texts.is_empty() || !images.is_empty() || !calls.is_empty();
    if has_body || !thinking.is_empty() {
        out.push(Message {
            role,
            content: texts.join("\n\n"),
            thinking: Some(thinking.join("\n\n")).filter(|t| !t.is_empty()),
            images: Some(images).filter(|i| !i.is_empty()),
            tool_calls: Some(calls).filter(|c| !c.is_empty()),
            ..Message::default()
        });
    }
    Ok(())
}

fn image_data(source: &ImageSource, at: &str) -> Result<String, AnthropicError> {
    match source {
        ImageSource::Base64 { data, .. } if crate::wire::openai::is_base64(data) => {
            Ok(data.clone())
        }
        ImageSource::Base64 { .. } => {
            Err(AnthropicError::invalid_request(format!("{at}.source.data: invalid base64 data")))
        }
        ImageSource::Url { .. } => Err(AnthropicError::invalid_request(format!(
            "{at}.source: image URLs are not supported, send the image as base64 data"
        ))),
    }
}

/// A tool result's text (blocks joined) and images.
fn tool_result(
    content: Option<&ToolResultContent>,
    at: &str,
) -> Result<(String, Vec<String>), AnthropicError> {
    match content {
        None => Ok((String::new(), Vec::new())),
        Some(ToolResultContent::Text(text)) => Ok((text.clone(), Vec::new())),
        Some(ToolResultContent::Blocks(blocks)) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for (position, block) in blocks.iter().enumerate() {
                match block {
                    ContentBlock::Text { text } => texts.push(text.as_str()),
                    ContentBlock::Image { source } => {
                        images.push(image_data(source, &format!("{at}.content.{position}"))?);
                    }
                    _ => {
                        return Err(AnthropicError::invalid_request(format!(
                            "{at}.content.{position}: a tool result holds only text and images"
                        )));
                    }
                }
            }
            Ok((texts.join("\n\n"), images))
        }
    }
}

/// The tool an earlier `tool_use` with this id called.
fn tool_name_for(all: &[InputMessage], id: &str) -> Option<String> {
    all.iter().rev().find_map(|turn| match &turn.content {
        InputContent::Blocks(blocks) => blocks.iter().find_map(|block| match block {
            ContentBlock::ToolUse { id: used, name, .. } if used == id => Some(name.clone()),
            _ => None,
        }),
        InputContent::Text(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn native(body: Value) -> Result<ChatRequest, AnthropicError> {
        serde_json::from_value::<MessagesRequest>(body).unwrap().to_native()
    }

    #[test]
    fn system_text_and_options() {
        let request = native(json!({
            "model": "m", "max_tokens": 32, "system": [{"type":"text","text":"a"},{"type":"text","text":"b"}],
            "messages": [{"role":"user","content":"hi"}],
            "temperature": 0.5, "top_k": 40, "stop_sequences": ["END"], "stream": true,
        }))
        .unwrap();
        assert_eq!(request.messages[0], Message::new(Role::System, "a\n\nb"));
        assert_eq!(request.messages[1], Message::new(Role::User, "hi"));
        let options = request.options.unwrap();
        assert_eq!(options.num_predict(), Some(32));
        assert_eq!(options.temperature(), Some(0.5));
        assert_eq!(options.stop(), vec!["END".to_owned()]);
        assert_eq!(options.0["top_k"], 40);
        assert_eq!(request.stream, Some(true));
        assert_eq!(request.think, None);
    }

    #[test]
    fn tool_use_and_results() {
        let request = native(json!({
            "model": "m", "max_tokens": 8,
            "tools": [{"name":"read","description":"reads","input_schema":{"type":"object"}}],
            "thinking": {"type":"enabled","budget_tokens":1024},
            "messages": [
                {"role":"user","content":"read a"},
                {"role":"assistant","content":[
                    {"type":"thinking","thinking":"need a","signature":"s"},
                    {"type":"text","text":"reading"},
                    {"type":"tool_use","id":"toolu_1","name":"read","input":{"path":"a"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"A"}]},
                    {"type":"text","text":"and now?","cache_control":{"type":"ephemeral"}}]},
            ],
        }))
        .unwrap();
        assert_eq!(request.think, Some(Think::Enabled(true)));
        let tools = request.tools.unwrap();
        assert_eq!(tools[0].function.name, "read");
        assert_eq!(tools[0].function.parameters, json!({"type":"object"}));
        let assistant = &request.messages[1];
        assert_eq!(assistant.role, Role::Assistant);
        assert_eq!(assistant.content, "reading");
        assert_eq!(assistant.thinking.as_deref(), Some("need a"));
        let call = &assistant.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.id.as_deref(), Some("toolu_1"));
        assert_eq!(call.function.arguments, json!({"path":"a"}));
        let result = &request.messages[2];
        assert_eq!(result.role, Role::Tool);
        assert_eq!(result.content, "A");
        assert_eq!(result.tool_name.as_deref(), Some("read"));
        assert_eq!(result.tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(request.messages[3], Message::new(Role::User, "and now?"));
    }

    #[test]
    fn tool_choice_none_offers_no_tools() {
        let request = native(json!({
            "model": "m", "max_tokens": 8, "tool_choice": {"type":"none"},
            "tools": [{"name":"read","input_schema":{}}],
            "messages": [{"role":"user","content":"x"}],
        }))
        .unwrap();
        assert!(request.tools.is_none());
    }

    #[test]
    fn refusals_name_the_place() {
        let empty = native(json!({"model":"m","max_tokens":1,"messages":[]})).unwrap_err();
        assert!(empty.message().starts_with("messages:"), "{empty}");
        let role =
            native(json!({"model":"m","messages":[{"role":"tool","content":"x"}]})).unwrap_err();
        assert!(role.message().starts_with("messages.0.role"), "{role}");
        let url = native(json!({"model":"m","messages":[{"role":"user","content":[
            {"type":"text","text":"x"},
            {"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}))
        .unwrap_err();
        assert!(url.message().starts_with("messages.0.content.1.source"), "{url}");
        let server = native(
            json!({"model":"m","tools":[{"type":"web_search_20250305","name":"web_search"}],
            "messages":[{"role":"user","content":"x"}]}),
        )
        .unwrap_err();
        assert!(server.message().contains("server tool"), "{server}");
        let thinking = native(json!({"model":"m","thinking":{"type":"sometimes"},
            "messages":[{"role":"user","content":"x"}]}))
        .unwrap_err();
        assert!(thinking.message().starts_with("thinking.type"), "{thinking}");
        let unknown = serde_json::from_value::<MessagesRequest>(json!({"model":"m",
            "messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}));
        assert!(unknown.is_err());
    }
}
