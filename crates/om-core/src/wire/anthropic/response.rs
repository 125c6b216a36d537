//! The whole `/v1/messages` answer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::wire::{ChatResponse, Metrics, ToolCall};

/// A non-streamed answer (and, empty, the message of `message_start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// `msg_<n>`.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: String,
    /// The model as requested.
    pub model: String,
    /// Thinking, text and tool-use blocks, in that order.
    pub content: Vec<OutputBlock>,
    /// Why generation ended; `null` in `message_start`.
    pub stop_reason: Option<StopReason>,
    /// Which stop sequence matched: Ollama does not say, so always `null`.
    pub stop_sequence: Option<String>,
    /// Token counts.
    pub usage: Usage,
}

/// A block of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputBlock {
    /// Reasoning.
    Thinking {
        /// The text.
        thinking: String,
        /// Anthropic signs its reasoning; a local model's carries an empty
        /// signature, which clients send back unread.
        signature: String,
    },
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A call of one of the request's tools.
    ToolUse {
        /// The call's id (`toolu_…`).
        id: String,
        /// The tool.
        name: String,
        /// The arguments object.
        input: Value,
    },
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished, or hit a stop sequence (Ollama reports both as
    /// `stop`).
    EndTurn,
    /// `max_tokens` (`num_predict`) ran out.
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// The model called a tool.
    ToolUse,
}

impl StopReason {
    /// The reason for a native `done_reason`, given whether a tool was called.
    pub fn from_native(done_reason: Option<&str>, called_tool: bool) -> Self {
        match done_reason {
            Some("length") => Self::MaxTokens,
            _ if called_tool => Self::ToolUse,
            _ => Self::EndTurn,
        }
    }
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (`prompt_eval_count`).
    pub input_tokens: u64,
    /// Generated tokens (`eval_count`).
    pub output_tokens: u64,
}

impl Usage {
    /// The counts of a native final chunk (absent ones are zero).
    pub fn from_metrics(metrics: &Metrics) -> Self {
        Self {
            input_tokens: metrics.prompt_eval_count.unwrap_or(0),
            output_tokens: metrics.eval_count.unwrap_or(0),
        }
    }
}

impl MessagesResponse {
    /// An answer with no content yet, as `message_start` carries it.
    pub fn started(id: impl Into<String>, model: impl Into<String>, usage: Usage) -> Self {
        Self {
            id: id.into(),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: model.into(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage,
        }
    }

    /// The answer for a whole native chat response.
    pub fn from_native(native: &ChatResponse, id: &str) -> Self {
        let mut content = Vec::new();
        if let Some(thinking) = native.message.thinking.as_ref().filter(|t| !t.is_empty()) {
            content.push(OutputBlock::Thinking {
                thinking: thinking.clone(),
                signature: String::new(),
            });
        }
        if !native.message.content.is_empty() {
            content.push(OutputBlock::Text { text: native.message.content.clone() });
        }
        let calls = native.message.tool_calls.as_deref().unwrap_or_default();
        for (index, call) in calls.iter().enumerate() {
            content.push(tool_use(call, id, index));
        }
        let mut answer =
            Self::started(id, native.model.clone(), Usage::from_metrics(&native.metrics));
        answer.content = content;
        answer.stop_reason =
            Some(StopReason::from_native(native.done_reason.as_deref(), !calls.is_empty()));
        answer
    }
}

/// A native tool call as a `tool_use` block; a call without an id gets one
/// made of the message's id and its position.
pub(crate) fn tool_use(call: &ToolCall, message_id: &str, index: usize) -> OutputBlock {
    let (id, name, input) = tool_use_parts(call, message_id, index);
    OutputBlock::ToolUse { id, name, input }
}

/// The id, name and input of [`tool_use`]'s block.
pub(crate) fn tool_use_parts(
    call: &ToolCall,
    message_id: &str,
    index: usize,
) -> (String, String, Value) {
    let id = call.id.clone().filter(|id| !id.is_empty()).unwrap_or_else(|| {
        format!("toolu_{}_{index}", message_id.strip_prefix("msg_").unwrap_or(message_id))
    });
    let input = match &call.function.arguments {
        Value::Null => Value::Object(Map::new()),
        other => other.clone(),
    };
    (id, call.function.name.clone(), input)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whole_answer() {
        let native: ChatResponse = serde_json::from_value(json!({
            "model": "m", "created_at": "x", "done": true, "done_reason": "stop",
            "message": {"role":"assistant","content":"hi","thinking":"hmm",
                "tool_calls":[{"function":{"name":"read","arguments":{"p":1}}}]},
            "prompt_eval_count": 7, "eval_count": 3,
        }))
        .unwrap();
        let answer = serde_json::to_value(MessagesResponse::from_native(&native, "msg_9")).unwrap();
        assert_eq!(
            answer,
            json!({
                "id": "msg_9", "type": "message", "role": "assistant", "model": "m",
                "content": [
                    {"type":"thinking","thinking":"hmm","signature":""},
                    {"type":"text","text":"hi"},
                    {"type":"tool_use","id":"toolu_9_0","name":"read","input":{"p":1}},
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 7, "output_tokens": 3},
            })
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(StopReason::from_native(Some("length"), true), StopReason::MaxTokens);
        assert_eq!(StopReason::from_native(Some("stop"), true), StopReason::ToolUse);
        assert_eq!(StopReason::from_native(Some("stop"), false), StopReason::EndTurn);
        assert_eq!(StopReason::from_native(None, false), StopReason::EndTurn);
    }
}
