//! What generate, chat and the embedding routes share: fault dice, getting a
//! runner and a slot, prompt evaluation, and turning a composed reply into a
//! token script and an event stream.

use std::time::Duration;

use futures_util::stream;
use om_core::wire::{Format, Options, ToolCall};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::App;
use super::events::{Event, Events};
use crate::compute::Active;
use crate::error::ApiError;
use crate::fault::{Faults, Verdict};
use crate::generation::{Generator, Script, Settings, Step};
use crate::reply::{self, Reply};
use crate::request;
use crate::scheduler::{Lease, LoadRequest};
use crate::spec::ModelSpec;

/// Rolls the fault dice for one inference request and returns the faults in
/// force for the rest of it.
///
/// # Errors
///
/// The injected 500 or 503. A hang never returns: the request future stays
/// pending until the client or the server gives up on it.
pub(crate) async fn roll_faults(app: &App) -> Result<Faults, ApiError> {
    let faults = app.faults();
    let verdict = faults.roll(&mut app.shared().rng.lock());
    match verdict {
        Verdict::Serve => Ok(faults),
        Verdict::Error => Err(ApiError::simulated()),
        Verdict::Busy => Err(crate::scheduler::Busy.into()),
        Verdict::Hang => std::future::pending().await,
    }
}

/// Gets a runner for `model` (loading it if needed) and, when `slot` is set,
/// one of its parallel slots.
///
/// # Errors
///
/// 503 busy when the model needs a load and the queue is full.
pub(crate) async fn admit(
    app: &App,
    model: &ModelSpec,
    options: Option<&Options>,
    keep_alive: Option<Duration>,
    faults: &Faults,
    slot: bool,
) -> Result<Lease, ApiError> {
    let (num_ctx, signature) = request::load_signature(model, options);
    let load = LoadRequest {
        model: model.clone(),
        signature,
        num_ctx,
        keep_alive,
        extra_load: faults.slow_load,
    };
    let mut lease = app.shared().scheduler.acquire(&load).await?;
    if slot {
        lease.take_slot().await;
    }
    Ok(lease)
}

/// Simulates prompt evaluation (the time to first token) on the endpoint's
/// shared compute, and returns how long it took together with the request's
/// hold on the compute, which the generation keeps until it ends.
///
/// The configured time to first token is what a lone request takes; with
/// company it takes longer, by as much as generation slows down.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future drops the hold, so the request stops
/// counting as active.
pub(crate) async fn prompt_eval(app: &App) -> (Duration, Active) {
    let start = Instant::now();
    let active = app.shared().compute.join();
    // `run` does not sleep for zero work: tokio rounds even a zero sleep up
    // to its next 1 ms tick, which would put a floor under every benchmark
    // against the simulator.
    active.compute().run(app.shared().ttft).await;
    (start.elapsed(), active)
}

/// The generation limits and pacing for a request.
pub(crate) fn settings(app: &App, options: Option<&Options>, faults: Faults) -> Settings {
    let tps = app.shared().tokens_per_sec;
    let per_token = if tps.is_finite() && tps > 0.0 {
        Duration::from_secs_f64(1.0 / tps)
    } else {
        Duration::ZERO
    };
    Settings {
        num_predict: request::num_predict(options),
        stop: options.map(Options::stop).unwrap_or_default(),
        per_token,
        faults,
    }
}

/// Splits a composed reply into the script to stream. Thinking is kept only
/// when it is on; tool calls only when the request offered tools; `format`
/// turns the text into JSON.
pub(crate) fn script(
    app: &App,
    reply: Reply,
    think: bool,
    tools: bool,
    format: Option<&Format>,
) -> Script {
    let text = match format {
        Some(format) if format.wants_json() => structured(&reply.text, format),
        _ => reply.text,
    };
    let thinking = if think { reply.thinking } else { String::new() };
    let tool_calls: Vec<ToolCall> = if tools { reply.tool_calls } else { Vec::new() };
    let tool_calls = number_calls(app, tool_calls);
    let tool_call_tokens = tool_calls
        .iter()
        .map(|c| {
            reply::count_tokens(&format!("{} {}", c.function.name, c.function.arguments)) as u64
        })
        .sum();
    Script {
        thinking: reply::split_tokens(&thinking).into_iter().map(str::to_owned).collect(),
        content: reply::split_tokens(&text).into_iter().map(str::to_owned).collect(),
        tool_calls,
        tool_call_tokens,
    }
}

/// Gives tool calls Ollama's `call_xxxxxxxx` ids and their index.
fn number_calls(app: &App, mut calls: Vec<ToolCall>) -> Vec<ToolCall> {
    let mut rng = app.shared().rng.lock();
    for (index, call) in calls.iter_mut().enumerate() {
        if call.id.is_none() {
            call.id = Some(format!("call_{}", rng.alphanumeric(8)));
        }
        call.function.index = Some(index as u32);
    }
    calls
}

/// Streams a generator's steps as events; `map` shapes each step as the
/// route's chunk type.
pub(crate) fn events<T, F>(generator: Generator, map: F) -> Events<T>
where
    T: Send + 'static,
    F: FnMut(Step) -> Event<T> + Send + 'static,
{
    Box::pin(stream::unfold((generator, map), |(mut generator, mut map)| async move {
        let step = generator.next().await?;
        let event = map(step);
        Some((event, (generator, map)))
    }))
}

/// Token ids for the deprecated `context` array: stable small numbers per
/// token text.
pub(crate) fn token_ids(text: &str) -> impl Iterator<Item = i64> + '_ {
    reply::split_tokens(text).into_iter().map(|token| {
        let hash = token
            .bytes()
            .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        i64::from(hash % 128_000)
    })
}

/// JSON output for `format`: `{"response": text}` in JSON mode, or a value
/// shaped by the schema with the reply's words in its strings.
fn structured(text: &str, format: &Format) -> String {
    let value = match &format.0 {
        Value::Object(_) => from_schema(&format.0, text, 0),
        _ => serde_json::json!({ "response": text }),
    };
    value.to_string()
}

fn from_schema(schema: &Value, text: &str, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null")
        }
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), from_schema(property, text, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array(vec![from_schema(&items, text, depth + 1)])
        }
        "integer" => Value::from(1),
        "number" => Value::from(1.5),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::String(text.split_whitespace().take(8).collect::<Vec<_>>().join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn schema_output_is_valid_json_of_the_right_shape() {
        let schema = Format(json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"enum": ["a", "b"]}
            }
        }));
        let out: Value = serde_json::from_str(&structured("hello there world", &schema)).unwrap();
        assert_eq!(out["name"], "hello there world");
        assert_eq!(out["age"], 1);
        assert_eq!(out["tags"], json!(["hello there world"]));
        assert_eq!(out["kind"], "a");
        let mode: Value = serde_json::from_str(&structured("x", &Format::json())).unwrap();
        assert_eq!(mode, json!({"response": "x"}));
    }
}
