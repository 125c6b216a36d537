//! `POST /api/chat` (`OLLAMA_API.md` §4).

use om_core::wire::{ChatRequest, ChatResponse, Message, Role};
use om_core::{Capability, ModelName};
use tokio::time::Instant;

use super::App;
use super::events::{self, Event, Merge, Run};
use super::inference;
use crate::error::ApiError;
use crate::generation::{Generator, Prelude, Step};
use crate::reply::{self, ReplyInput};
use crate::request;
use crate::response::{self, Reply};

pub(crate) async fn handle(app: &App, body: &[u8]) -> Reply {
    let request: ChatRequest = match request::decode(body) {
        Ok(request) => request,
        Err(err) => return Ok(response::error(&err)),
    };
    let stream = request.is_stream();
    match start(app, request).await {
        Ok(Run::Single(single)) => Ok(response::json(http::StatusCode::OK, &single)),
        Ok(Run::Stream(events)) if stream => events::ndjson(events).await,
        Ok(Run::Stream(events)) => events::whole(events).await,
        Err(err) => Ok(response::error(&err)),
    }
}

fn top_logprobs_ok(top: Option<i64>) -> Result<(), ApiError> {
    match top {
        Some(n) if !(0..=20).contains(&n) => {
            Err(ApiError::bad_request("top_logprobs must be between 0 and 20"))
        }
        _ => Ok(()),
    }
}

/// Validates a chat request and starts it: the load/unload shortcut, or a
/// generation whose events have not been polled yet.
///
/// # Errors
///
/// Every error Ollama answers before the first line (§4 and §11.17).
pub(crate) async fn start(app: &App, request: ChatRequest) -> Result<Run<ChatResponse>, ApiError> {
    let request_start = Instant::now();
    top_logprobs_ok(request.top_logprobs)?;
    let keep_alive = request::keep_alive(request.keep_alive.as_ref(), app.shared().keep_alive)?;
    if request.model.is_empty() {
        return Err(ApiError::model_required());
    }
    let name = ModelName::parse(&request.model).map_err(|_| ApiError::invalid_model_name())?;
    let model = app.find(&name).ok_or_else(|| ApiError::model_not_found(&request.model))?.spec;
    let requested = request.model.clone();
    if request.messages.is_empty() && request::is_unload(request.keep_alive.as_ref()) {
        app.shared().scheduler.expire(&model);
        return Ok(Run::Single(shortcut(app, &requested, "unload")));
    }
    if !model.has(Capability::Completion) {
        return Err(ApiError::bad_request(format!("\"{requested}\" does not support chat")));
    }
    let tools = request.tools.as_deref().unwrap_or_default();
    if !tools.is_empty() && !model.has(Capability::Tools) {
        return Err(ApiError::bad_request(format!("{} does not support tools", name.full())));
    }
    let wants_think = request.think.is_some_and(om_core::wire::Think::is_enabled);
    if wants_think && !model.has(Capability::Thinking) {
        return Err(ApiError::bad_request(format!("\"{requested}\" does not support thinking")));
    }
    let think =
        request.think.map_or(model.has(Capability::Thinking), om_core::wire::Think::is_enabled);
    let options = request.options.as_ref();
    request::check_options(options)?;
    request::check_format(request.format.as_ref())?;
    let faults = inference::roll_faults(app).await?;
    if request.messages.is_empty() {
        drop(inference::admit(app, &model, options, keep_alive, &faults, false).await?);
        return Ok(Run::Single(shortcut(app, &requested, "load")));
    }
    let lease = inference::admit(app, &model, options, keep_alive, &faults, true).await?;
    let load_duration = lease.load_duration();
    let (prompt_eval_duration, active) = inference::prompt_eval(app).await;

    let system =
        request.messages.iter().find(|m| m.role == Role::System).map(|m| m.content.as_str());
    let seed = options.and_then(om_core::wire::Options::seed).and_then(|s| u64::try_from(s).ok());
    let reply = reply::compose(
        &app.shared().reply,
        &ReplyInput {
            model: &requested,
            system,
            messages: &request.messages,
            tools,
            seed: seed.unwrap_or(app.shared().seed),
        },
    );
    let prompt_eval_count = prompt_tokens(&request.messages, tools);
    let script = inference::script(app, reply, think, !tools.is_empty(), request.format.as_ref());
    let settings = inference::settings(app, options, faults);
    let prelude = Prelude { request_start, load_duration, prompt_eval_count, prompt_eval_duration };
    let generator = Generator::new(script, settings, prelude, lease, active);
    let app = app.clone();
    Ok(Run::Stream(inference::events(generator, move |step| chunk(&app, &requested, step))))
}

/// Prompt tokens: every message's text plus the tool definitions.
fn prompt_tokens(messages: &[Message], tools: &[om_core::wire::Tool]) -> u64 {
    let text: usize = messages.iter().map(|m| reply::count_tokens(&m.content)).sum();
    let tools: usize = tools
        .iter()
        .map(|t| reply::count_tokens(&serde_json::to_string(t).unwrap_or_default()))
        .sum();
    (text + tools) as u64
}

fn assistant(content: String) -> Message {
    Message::new(Role::Assistant, content)
}

fn shortcut(app: &App, model: &str, reason: &str) -> ChatResponse {
    ChatResponse {
        model: model.to_owned(),
        created_at: app.shared().clock.stamp(),
        message: assistant(String::new()),
        done: true,
        done_reason: Some(reason.to_owned()),
        ..ChatResponse::default()
    }
}

fn chunk(app: &App, model: &str, step: Step) -> Event<ChatResponse> {
    let piece = |message: Message| ChatResponse {
        model: model.to_owned(),
        created_at: app.shared().clock.stamp(),
        message,
        ..ChatResponse::default()
    };
    match step {
        Step::Thinking(text) => {
            Event::Chunk(piece(Message { thinking: Some(text), ..assistant(String::new()) }))
        }
        Step::Content(text) => Event::Chunk(piece(assistant(text))),
        Step::ToolCalls(calls) => {
            Event::Chunk(piece(Message { tool_calls: Some(calls), ..assistant(String::new()) }))
        }
        Step::Done(finish) => Event::Chunk(ChatResponse {
            done: true,
            done_reason: Some(finish.done_reason.to_owned()),
            metrics: finish.metrics,
            ..piece(assistant(String::new()))
        }),
        Step::Malformed => Event::Malformed,
        Step::Error(message) => Event::Error(message),
        Step::Disconnect => Event::Disconnect,
    }
}

impl Merge for ChatResponse {
    fn merge(&mut self, later: Self) {
        self.message.content.push_str(&later.message.content);
        events::concat(&mut self.message.thinking, later.message.thinking);
        if let Some(calls) = later.message.tool_calls {
            self.message.tool_calls.get_or_insert_with(Vec::new).extend(calls);
        }
        self.created_at = later.created_at;
        self.done = later.done;
        self.done_reason = later.done_reason;
        self.metrics = later.metrics;
    }
}
