//! `POST /api/embed` and the legacy `POST /api/embeddings` (`OLLAMA_API.md` §5).

use http::StatusCode;
use om_core::wire::{
    EmbedInput, EmbedRequest, EmbedResponse, EmbeddingsRequest, EmbeddingsResponse,
};
use serde_json::Value;
use tokio::time::Instant;

use super::App;
use super::inference;
use crate::error::ApiError;
use crate::reply;
use crate::request;
use crate::response::{self, Reply};

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) async fn embed(app: &App, body: &[u8]) -> Reply {
    let request = match decode_embed(body) {
        Ok(request) => request,
        Err(err) => return Ok(response::error(&err)),
    };
    Ok(match run_embed(app, &request).await {
        Ok(done) => response::json(StatusCode::OK, &done),
        Err(err) => response::error(&err),
    })
}

/// Decodes an `/api/embed` body. `input` is checked by hand because Ollama
/// binds it as `any` and answers a wrong shape with `invalid input type`.
pub(crate) fn decode_embed(body: &[u8]) -> Result<EmbedRequest, ApiError> {
    let mut value: Value = request::decode(body)?;
    let input = match value.as_object_mut().and_then(|o| o.remove("input")) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(EmbedInput::One(text)),
        Some(Value::Array(items)) => {
            let texts = items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(ApiError::bad_request("invalid input type")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(EmbedInput::Many(texts))
        }
        Some(_) => return Err(ApiError::bad_request("invalid input type")),
    };
    let mut request: EmbedRequest = serde_json::from_value(value)
        .map_err(|err| ApiError::bad_request(request::decode_message(&err)))?;
    request.input = input;
    Ok(request)
}

/// Runs an `/api/embed` request.
///
/// # Errors
///
/// 404 `model "x" not found, try pulling it first`, 400 for bad input, 503
/// busy, and injected faults.
pub(crate) async fn run_embed(
    app: &App,
    request: &EmbedRequest,
) -> Result<EmbedResponse, ApiError> {
    let start = Instant::now();
    let keep_alive = request::keep_alive(request.keep_alive.as_ref(), app.shared().keep_alive)?;
    let model = app
        .find_text(&request.model)
        .ok_or_else(|| ApiError::model_not_pulled(&request.model))?
        .spec;
    let options = request.options.as_ref();
    request::check_options(options)?;
    let faults = inference::roll_faults(app).await?;
    let texts = request.input.as_ref().map(EmbedInput::texts).unwrap_or_default();
    let only_load = request.input.as_ref().is_none_or(EmbedInput::is_empty);
    let lease = inference::admit(app, &model, options, keep_alive, &faults, !only_load).await?;
    if only_load {
        return Ok(EmbedResponse { model: request.model.clone(), ..EmbedResponse::default() });
    }
    let (num_ctx, _) = request::load_signature(&model, options);
    let counts: Vec<usize> = texts.iter().map(|t| reply::count_tokens(t)).collect();
    if request.truncate == Some(false) && counts.iter().any(|n| *n as u64 > num_ctx) {
        return Err(ApiError::bad_request("the input length exceeds the context length"));
    }
    // Embedding is prompt evaluation only: it shares the compute while it
    // runs and lets go as soon as it is done.
    drop(inference::prompt_eval(app).await);
    let width = model.embedding_length.max(1) as usize;
    let embeddings = texts
        .iter()
        .map(|text| {
            let vector = reply::embedding(text, width);
            match request.dimensions {
                Some(dims) if dims > 0 && dims < vector.len() => normalised(&vector[..dims]),
                _ => vector,
            }
        })
        .collect();
    let load = lease.load_duration();
    drop(lease);
    Ok(EmbedResponse {
        model: request.model.clone(),
        embeddings,
        total_duration: Some(nanos(start.elapsed().max(load))),
        load_duration: Some(nanos(load)),
        prompt_eval_count: Some(counts.iter().sum::<usize>().max(1) as u64),
    })
}

/// `vector` scaled to unit length.
fn normalised(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return vector.to_vec();
    }
    vector.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

pub(crate) async fn embeddings(app: &App, body: &[u8]) -> Reply {
    let request: EmbeddingsRequest = match request::decode(body) {
        Ok(request) => request,
        Err(err) => return Ok(response::error(&err)),
    };
    Ok(match run_embeddings(app, &request).await {
        Ok(done) => response::json(StatusCode::OK, &done),
        Err(err) => response::error(&err),
    })
}

async fn run_embeddings(
    app: &App,
    request: &EmbeddingsRequest,
) -> Result<EmbeddingsResponse, ApiError> {
    let keep_alive = request::keep_alive(request.keep_alive.as_ref(), app.shared().keep_alive)?;
    let model = app
        .find_text(&request.model)
        .ok_or_else(|| ApiError::model_not_pulled(&request.model))?
        .spec;
    let options = request.options.as_ref();
    request::check_options(options)?;
    let faults = inference::roll_faults(app).await?;
    let only_load = request.prompt.is_empty();
    let lease = inference::admit(app, &model, options, keep_alive, &faults, !only_load).await?;
    if only_load {
        return Ok(EmbeddingsResponse::default());
    }
    drop(inference::prompt_eval(app).await);
    drop(lease);
    let width = model.embedding_length.max(1) as usize;
    // The legacy route returns raw, unnormalised vectors; a length that
    // grows with the prompt keeps them visibly non-unit.
    let scale = 1.5 + reply::count_tokens(&request.prompt) as f64 / 4.0;
    let embedding = reply::embedding(&request.prompt, width)
        .into_iter()
        .map(|x| f64::from(x) * scale)
        .collect();
    Ok(EmbeddingsResponse { embedding })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes() {
        let one = decode_embed(br#"{"model":"m","input":"a"}"#).unwrap();
        assert_eq!(one.input, Some(EmbedInput::One("a".to_owned())));
        let many = decode_embed(br#"{"model":"m","input":["a","b"],"dimensions":4}"#).unwrap();
        assert_eq!(many.input, Some(EmbedInput::Many(vec!["a".to_owned(), "b".to_owned()])));
        assert_eq!(many.dimensions, Some(4));
        for bad in [&br#"{"model":"m","input":[1]}"#[..], br#"{"model":"m","input":5}"#] {
            assert_eq!(decode_embed(bad).unwrap_err().message, "invalid input type");
        }
        assert_eq!(decode_embed(b"").unwrap_err(), ApiError::missing_body());
    }

    #[test]
    fn cut_vectors_are_renormalised() {
        let v = normalised(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }
}
