//! `Task`: one unit of LLM work in a batch, as the dispatcher, orchestrator
//! and batch runner share it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::name::{ModelName, TaskId};
use crate::task::{Capabilities, Priority, TaskCategory};
use crate::wire::{Format, Message, Options, Role};

/// What the model is asked: a single prompt or a whole conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// One user prompt.
    Text(String),
    /// A conversation, sent as-is.
    Messages(Vec<Message>),
}

impl Prompt {
    /// The conversation to send to `/api/chat`, with `system` first when
    /// given and the conversation does not already start with one.
    pub fn to_messages(&self, system: Option<&str>) -> Vec<Message> {
        let mut messages = match self {
            Self::Text(text) => vec![Message::new(Role::User, text.clone())],
            Self::Messages(messages) => messages.clone(),
        };
        if let Some(system) = system
            && messages.first().is_none_or(|m| m.role != Role::System)
        {
            messages.insert(0, Message::new(Role::System, system));
        }
        messages
    }

    /// All the text of the prompt, for category detection and token estimates.
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Messages(messages) => {
                messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n")
            }
        }
    }
}

/// Which models may run a task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ModelChoice {
    /// Any model that meets the requirements.
    #[default]
    Any,
    /// Exactly this model.
    Pinned(ModelName),
    /// One of these models (or model families, matched by the router).
    AllowList(Vec<String>),
}

/// One unit of LLM work.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Unique within its batch.
    pub id: TaskId,
    /// What to ask.
    pub prompt: Prompt,
    /// A system prompt, placed first.
    pub system: Option<String>,
    /// The kind of work; detected from the prompt when absent.
    pub category: Option<TaskCategory>,
    /// Queue priority.
    pub priority: Priority,
    /// Which models may run it.
    pub model: ModelChoice,
    /// What the model must be able to do.
    pub requires: Capabilities,
    /// Ollama options (`num_predict`, `temperature`, …).
    pub options: Option<Options>,
    /// The most time the task may take, all attempts included.
    pub timeout: Option<Duration>,
    /// JSON mode or schema.
    pub format: Option<Format>,
}

impl Task {
    /// A normal-priority task with a text prompt and no constraints.
    pub fn new(id: impl Into<TaskId>, prompt: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            prompt: Prompt::Text(prompt.into()),
            system: None,
            category: None,
            priority: Priority::Normal,
            model: ModelChoice::Any,
            requires: Capabilities::NONE,
            options: None,
            timeout: None,
            format: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_goes_first_once() {
        let p = Prompt::Text("hi".to_owned());
        let m = p.to_messages(Some("be brief"));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].role, Role::System);
        let convo = Prompt::Messages(m.clone());
        assert_eq!(convo.to_messages(Some("other")), m);
        assert_eq!(convo.text(), "be brief\nhi");
    }
}
