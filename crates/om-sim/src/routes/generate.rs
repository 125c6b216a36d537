//! `POST /api/generate` (`OLLAMA_API.md` §3).

use om_core::wire::{GenerateRequest, GenerateResponse, Message, Role};
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
    let request: GenerateRequest = match request::decode(body) {
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

/// Validates a generate request and starts it: the load/unload shortcut, or
/// a generation whose events have not been polled yet.
///
/// # Errors
///
/// Every error Ollama answers before the first line (§3 and §11.17).
pub(crate) async fn start(
    app: &App,
    request: GenerateRequest,
) -> Result<Run<GenerateResponse>, ApiError> {
    let request_start = Instant::now();
    let raw = request.raw.unwrap_or(false);
    if raw && (request.template.is_some() || request.system.is_some() || request.context.is_some())
    {
        return Err(ApiError::bad_request(
            "raw mode does not support template, system, or context",
        ));
    }
    if let Some(top) = request.top_logprobs
        && !(0..=20).contains(&top)
    {
        return Err(ApiError::bad_request("top_logprobs must be between 0 and 20"));
    }
    let keep_alive = request::keep_alive(request.keep_alive.as_ref(), app.shared().keep_alive)?;
    let requested = request.model.clone();
    // Ollama quirk: an empty name is "not found" here (chat says "required").
    let name = match ModelName::parse(&requested) {
        Ok(name) => name,
        Err(_) if requested.trim().is_empty() => return Err(ApiError::model_not_found(&requested)),
        Err(_) => return Err(ApiError::invalid_model_name()),
    };
    let model = app.find(&name).ok_or_else(|| ApiError::model_not_found(&requested))?.spec;
    let prompt = request.prompt.clone().unwrap_or_default();
    if prompt.is_empty() && request::is_unload(request.keep_alive.as_ref()) {
        app.shared().scheduler.expire(&model);
        return Ok(Run::Single(shortcut(app, &requested, "unload")));
    }
    if !model.has(Capability::Completion) {
        return Err(ApiError::bad_request(format!("\"{requested}\" does not support generate")));
    }
    if request.suffix.as_deref().is_some_and(|s| !s.is_empty()) && !model.has(Capability::Insert) {
        return Err(ApiError::bad_request(format!("{} does not support insert", name.full())));
    }
    if request.think.is_some_and(om_core::wire::Think::is_enabled)
        && !model.has(Capability::Thinking)
    {
        return Err(ApiError::bad_request(format!("\"{requested}\" does not support thinking")));
    }
    let think =
        request.think.map_or(model.has(Capability::Thinking), om_core::wire::Think::is_enabled);
    let options = request.options.as_ref();
    request::check_options(options)?;
    request::check_format(request.format.as_ref())?;
    let faults = inference::roll_faults(app).await?;
    if prompt.is_empty() {
        drop(inference::admit(app, &model, options, keep_alive, &faults, false).await?);
        return Ok(Run::Single(shortcut(app, &requested, "load")));
    }
    let lease = inference::admit(app, &model, options, keep_alive, &faults, true).await?;
    let load_duration = lease.load_duration();
    let (prompt_eval_duration, active) = inference::prompt_eval(app).await;

    let mut user = prompt.clone();
    if let Some(suffix) = request.suffix.as_deref().filter(|s| !s.is_empty()) {
        user.push_str(suffix);
    }
    let messages = [Message::new(Role::User, user)];
    let seed = options.and_then(om_core::wire::Options::seed).and_then(|s| u64::try_from(s).ok());
    let reply = reply::compose(
        &app.shared().reply,
        &ReplyInput {
            model: &requested,
            system: request.system.as_deref(),
            messages: &messages,
            tools: &[],
            seed: seed.unwrap_or(app.shared().seed),
        },
    );
    let prior = request.context.clone().unwrap_or_default();
    let prompt_eval_count = (reply::count_tokens(&messages[0].content)
        + request.system.as_deref().map_or(0, reply::count_tokens)
        + prior.len()) as u64;
    let mut context = (!raw).then(|| {
        prior.into_iter().chain(inference::token_ids(&messages[0].content)).collect::<Vec<i64>>()
    });
    let script = inference::script(app, reply, think, false, request.format.as_ref());
    let settings = inference::settings(app, options, faults);
    let prelude = Prelude { request_start, load_duration, prompt_eval_count, prompt_eval_duration };
    let generator = Generator::new(script, settings, prelude, lease, active);
    let app = app.clone();
    Ok(Run::Stream(inference::events(generator, move |step| {
        if let (Some(context), Step::Content(text)) = (context.as_mut(), &step) {
            context.extend(inference::token_ids(text));
        }
        chunk(&app, &requested, step, &mut context)
    })))
}

fn shortcut(app: &App, model: &str, reason: &str) -> GenerateResponse {
    GenerateResponse {
        model: model.to_owned(),
        created_at: app.shared().clock.stamp(),
        done: true,
        done_reason: Some(reason.to_owned()),
        ..GenerateResponse::default()
    }
}

fn chunk(
    app: &App,
    model: &str,
    step: Step,
    context: &mut Option<Vec<i64>>,
) -> Event<GenerateResponse> {
    let piece = || GenerateResponse {
        model: model.to_owned(),
        created_at: app.shared().clock.stamp(),
        ..GenerateResponse::default()
    };
    match step {
        Step::Thinking(text) => Event::Chunk(GenerateResponse { thinking: Some(text), ..piece() }),
        Step::Content(text) => Event::Chunk(GenerateResponse { response: text, ..piece() }),
        Step::ToolCalls(calls) => {
            Event::Chunk(GenerateResponse { tool_calls: Some(calls), ..piece() })
        }
        Step::Done(finish) => Event::Chunk(GenerateResponse {
            done: true,
            done_reason: Some(finish.done_reason.to_owned()),
            context: context.take(),
            metrics: finish.metrics,
            ..piece()
        }),
        Step::Malformed => Event::Malformed,
        Step::Error(message) => Event::Error(message),
        Step::Disconnect => Event::Disconnect,
    }
}

impl Merge for GenerateResponse {
    fn merge(&mut self, later: Self) {
        self.response.push_str(&later.response);
        events::concat(&mut self.thinking, later.thinking);
        if let Some(calls) = later.tool_calls {
            self.tool_calls.get_or_insert_with(Vec::new).extend(calls);
        }
        self.created_at = later.created_at;
        self.done = later.done;
        self.done_reason = later.done_reason;
        self.context = later.context;
        self.metrics = later.metrics;
    }
}
