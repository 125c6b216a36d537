//! What a [`Task`] becomes on the way out: a routing request for the router
//! and an `/api/chat` request for the chosen model.

use std::collections::BTreeMap;

use om_config::ModelSettings;
use om_core::wire::{ChatRequest, Options};
use om_core::{Capability, ModelChoice, ModelName, Task, TaskCategory};
use om_router::{ModelMatch, RouteRequest, detect_category, estimate_tokens};

/// The task's category: as given, or detected from the prompt.
pub(crate) fn category(task: &Task) -> TaskCategory {
    task.category.unwrap_or_else(|| detect_category(&task.prompt.text()))
}

/// The router's view of `task`: allowed models, capabilities, context need
/// (prompt estimate plus `num_predict`) and category.
pub(crate) fn route_request(task: &Task, category: TaskCategory) -> RouteRequest {
    let mut request = match &task.model {
        ModelChoice::Any => RouteRequest::any(),
        ModelChoice::Pinned(model) => RouteRequest::for_model(model.clone()),
        ModelChoice::AllowList(names) => RouteRequest::one_of(allow_list(names)),
    };
    let mut tokens = estimate_tokens(&task.prompt.text());
    if let Some(system) = &task.system {
        tokens = tokens.saturating_add(estimate_tokens(system));
    }
    // Negative `num_predict` means "until the context is full".
    let num_predict =
        task.options.as_ref().and_then(Options::num_predict).and_then(|n| u64::try_from(n).ok());
    request = request
        // A task is a chat: only models that generate text can take it, or an
        // embedding-only model in the fleet would be routed chat it refuses.
        .with_capabilities(task.requires.with(Capability::Completion))
        .with_tokens(tokens, num_predict)
        .with_category(category);
    request
}

/// An allow-list entry with a tag (`qwen2.5-coder:7b`) names one model; one
/// without (`llama3.2`, `qwen2`) names the model with the `latest` tag or
/// any model of that family.
fn allow_list(names: &[String]) -> Vec<ModelMatch> {
    let mut matches = Vec::with_capacity(names.len() * 2);
    for name in names {
        let name = name.trim();
        let parsed = name.parse::<ModelName>().ok();
        let tagged = name.rsplit('/').next().is_some_and(|last| last.contains(':'));
        if let Some(model) = parsed {
            matches.push(ModelMatch::Name(model));
        }
        if !tagged {
            matches.push(ModelMatch::Family(name.to_ascii_lowercase()));
        }
    }
    matches
}

/// The `/api/chat` request for `task` on `model` (named as the endpoint
/// lists it), streaming, with the model's configured options under the
/// task's own and its configured `keep_alive`.
pub(crate) fn chat_request(
    task: &Task,
    model: &ModelName,
    settings: &BTreeMap<ModelName, ModelSettings>,
) -> ChatRequest {
    let mut request =
        ChatRequest::new(model.to_string(), task.prompt.to_messages(task.system.as_deref()));
    request.stream = Some(true);
    request.format.clone_from(&task.format);
    let configured = settings.get(model);
    let mut options = configured.map(|s| s.options.clone()).unwrap_or_default();
    if let Some(own) = &task.options {
        options.0.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    request.options = (!options.0.is_empty()).then_some(options);
    request.keep_alive = configured.and_then(|s| s.keep_alive.clone());
    request
}

#[cfg(test)]
mod tests {
    use om_core::Capabilities;
    use om_core::wire::KeepAlive;
    use om_router::ModelSelector;

    use super::*;

    #[test]
    fn route_request_carries_the_constraints() {
        let mut task = Task::new("t", "x".repeat(40));
        task.system = Some("y".repeat(8));
        task.requires = Capabilities::of(&[Capability::Tools]);
        task.options = Some(Options::default().with("num_predict", 100));
        task.model = ModelChoice::Pinned("llama3.2".parse().unwrap());
        let r = route_request(&task, TaskCategory::Testing);
        assert_eq!(r.models, ModelSelector::Model("llama3.2:latest".parse().unwrap()));
        assert_eq!((r.prompt_tokens, r.num_predict), (12, Some(100)));
        assert_eq!(r.capabilities, task.requires.with(Capability::Completion));
        assert_eq!(r.category, Some(TaskCategory::Testing));

        task.options = Some(Options::default().with("num_predict", -1));
        assert_eq!(route_request(&task, TaskCategory::General).num_predict, None);
    }

    #[test]
    fn allow_list_entries_without_a_tag_also_match_families() {
        let matches = allow_list(&["qwen2.5-coder:7b".to_owned(), "llama".to_owned()]);
        assert_eq!(
            matches,
            [
                ModelMatch::Name("qwen2.5-coder:7b".parse().unwrap()),
                ModelMatch::Name("llama:latest".parse().unwrap()),
                ModelMatch::Family("llama".to_owned()),
            ]
        );
    }

    #[test]
    fn category_is_detected_when_absent() {
        let task = Task::new("t", "write unit tests for the parser");
        assert_eq!(category(&task), TaskCategory::Testing);
        let mut given = task.clone();
        given.category = Some(TaskCategory::Coding);
        assert_eq!(category(&given), TaskCategory::Coding);
    }

    #[test]
    fn model_settings_go_under_the_task_options() {
        let model: ModelName = "llama3.2".parse().unwrap();
        let mut settings = BTreeMap::new();
        settings.insert(
            model.clone(),
            ModelSettings {
                options: Options::default().with("num_ctx", 8192).with("temperature", 0.1),
                keep_alive: Some(KeepAlive::Text("30m".to_owned())),
            },
        );
        let mut task = Task::new("t", "hi");
        task.system = Some("be brief".to_owned());
        task.options = Some(Options::default().with("temperature", 0.7));
        let request = chat_request(&task, &model, &settings);
        assert_eq!(request.model, "llama3.2:latest");
        assert_eq!(request.messages.len(), 2);
        assert_eq!(request.stream, Some(true));
        let options = request.options.unwrap();
        assert_eq!(options.num_ctx(), Some(8192));
        assert_eq!(options.temperature(), Some(0.7));
        assert_eq!(request.keep_alive, Some(KeepAlive::Text("30m".to_owned())));

        let bare = chat_request(&Task::new("t", "hi"), &"qwen3:8b".parse().unwrap(), &settings);
        assert_eq!((bare.options, bare.keep_alive), (None, None));
    }
}
