//! Model management: pull, push, create, copy, delete and blobs
//! (`OLLAMA_API.md` §6.5–6.6). The catalog changes at once; progress lines
//! are paced only for show.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use http::{Method, Response, StatusCode};
use om_core::ModelName;
use om_core::wire::{CopyRequest, CreateRequest, DeleteRequest, ProgressResponse, PullRequest};

use super::App;
use crate::error::ApiError;
use crate::request;
use crate::response::{self, Body};
use crate::spec::{ModelSpec, default_model, derived_digest};

/// Pause between two progress lines of a stream.
const PROGRESS_STEP: Duration = Duration::from_millis(5);

fn progress(status: impl Into<String>) -> ProgressResponse {
    ProgressResponse { status: status.into(), ..ProgressResponse::default() }
}

/// Answers a progress stream, or only its last line when `stream` is false.
fn progress_reply(lines: Vec<ProgressResponse>, stream: bool) -> Response<Body> {
    if !stream {
        let last = lines.last().cloned().unwrap_or_else(|| progress("success"));
        return response::json(StatusCode::OK, &last);
    }
    let body = stream::iter(lines.into_iter().enumerate()).then(|(i, line)| async move {
        if i > 0 {
            tokio::time::sleep(PROGRESS_STEP).await;
        }
        Ok(response::ndjson_line(&line))
    });
    response::stream(response::NDJSON, body)
}

/// The layers a model is made of: weights, template, parameters.
fn layers(spec: &ModelSpec) -> Vec<(String, u64)> {
    vec![
        (spec.digest.clone(), spec.size_bytes),
        (derived_digest(&format!("{}#template", spec.name.as_key())), 1_429),
        (derived_digest(&format!("{}#params", spec.name.as_key())), 96),
    ]
}

fn parse_target(target: &str) -> Result<ModelName, ApiError> {
    if target.is_empty() {
        return Err(ApiError::model_required());
    }
    ModelName::parse(target).map_err(|_| ApiError::invalid_model_name())
}

pub(crate) fn pull(app: &App, body: &[u8]) -> Response<Body> {
    let result = request::decode::<PullRequest>(body).and_then(|request| {
        let name = parse_target(request.target())?;
        Ok((request, name))
    });
    let (request, name) = match result {
        Ok(ok) => ok,
        Err(err) => return response::error(&err),
    };
    // Every valid name "exists upstream": an unknown one gets a spec derived
    // from the name.
    let spec = app
        .find(&name)
        .map_or_else(|| ModelSpec::from_name(name.clone()), |installed| installed.spec);
    let spec = ModelSpec { name, ..spec };
    let mut lines = vec![progress("pulling manifest")];
    for (digest, total) in layers(&spec) {
        let status = format!("pulling {}", &digest[..12]);
        let layer = |completed| ProgressResponse {
            status: status.clone(),
            digest: Some(format!("sha256:{digest}")),
            total: Some(total),
            completed,
        };
        lines.extend([layer(None), layer(Some(total / 2)), layer(Some(total))]);
    }
    lines.extend(["verifying sha256 digest", "writing manifest", "success"].map(progress));
    app.install(spec);
    progress_reply(lines, request.stream.unwrap_or(true))
}

pub(crate) fn push(app: &App, body: &[u8]) -> Response<Body> {
    let result = request::decode::<PullRequest>(body).and_then(|request| {
        let name = parse_target(request.target())?;
        let installed =
            app.find(&name).ok_or_else(|| ApiError::model_not_found(request.target()))?;
        Ok((request, installed.spec))
    });
    let (request, spec) = match result {
        Ok(ok) => ok,
        Err(err) => return response::error(&err),
    };
    let mut lines = vec![progress("retrieving manifest")];
    for (digest, total) in layers(&spec) {
        lines.push(ProgressResponse {
            status: format!("pushing {}", &digest[..12]),
            digest: Some(format!("sha256:{digest}")),
            total: Some(total),
            completed: Some(total),
        });
    }
    lines.extend(["pushing manifest", "success"].map(progress));
    progress_reply(lines, request.stream.unwrap_or(true))
}

/// True for `sha256:` and 64 lower-case hex characters.
fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(crate) fn create(app: &App, body: &[u8]) -> Response<Body> {
    match plan_create(app, body) {
        Ok((spec, lines, stream)) => {
            app.install(spec);
            progress_reply(lines, stream)
        }
        Err(err) => response::error(&err),
    }
}

fn plan_create(
    app: &App,
    body: &[u8],
) -> Result<(ModelSpec, Vec<ProgressResponse>, bool), ApiError> {
    let request: CreateRequest = request::decode(body)?;
    let name = parse_target(&request.model)?;
    let files = request.files.clone().unwrap_or_default();
    let mut lines = Vec::new();
    let base = match request.from.as_deref().filter(|f| !f.is_empty()) {
        Some(from) => app.find_text(from).ok_or_else(|| ApiError::model_not_found(from))?.spec,
        None if !files.is_empty() => {
            for digest in files.values() {
                if !digest.as_str().is_some_and(is_digest) {
                    return Err(ApiError::bad_request("invalid digest format"));
                }
            }
            lines.push(progress("parsing GGUF"));
            default_model("llama3.2").expect("llama3.2 is a default model")
        }
        None => return Err(ApiError::bad_request("neither 'from' or 'files' was specified")),
    };
    let mut spec = ModelSpec::renamed(&base, name);
    if let Some(quantize) = request.quantize.as_deref().filter(|q| !q.is_empty()) {
        lines.push(progress(format!(
            "quantizing {} model to {}",
            base.quantization,
            quantize.to_ascii_uppercase()
        )));
        spec.quantization = quantize.to_ascii_uppercase();
    }
    for (digest, _) in layers(&base) {
        lines.push(progress(format!("using existing layer sha256:{digest}")));
    }
    if request.system.is_some() {
        lines.push(progress("creating system layer"));
    }
    if request.template.is_some() {
        lines.push(progress("creating template layer"));
    }
    if request.parameters.is_some() {
        lines.push(progress("creating parameters layer"));
    }
    lines.extend(["writing manifest", "success"].map(progress));
    Ok((spec, lines, request.stream.unwrap_or(true)))
}

pub(crate) fn copy(app: &App, body: &[u8]) -> Response<Body> {
    match copy_model(app, body) {
        Ok(()) => response::empty(),
        Err(err) => response::error(&err),
    }
}

fn copy_model(app: &App, body: &[u8]) -> Result<(), ApiError> {
    let request: CopyRequest = request::decode(body)?;
    let source = ModelName::parse(&request.source)
        .map_err(|_| ApiError::bad_request(format!("source \"{}\" is invalid", request.source)))?;
    let destination = ModelName::parse(&request.destination).map_err(|_| {
        ApiError::bad_request(format!("destination \"{}\" is invalid", request.destination))
    })?;
    let installed = app
        .find(&source)
        .ok_or_else(|| ApiError::not_found(format!("model \"{}\" not found", request.source)))?;
    app.install(ModelSpec::renamed(&installed.spec, destination));
    Ok(())
}

pub(crate) fn delete(app: &App, body: &[u8]) -> Response<Body> {
    match delete_model(app, body) {
        Ok(()) => response::empty(),
        Err(err) => response::error(&err),
    }
}

fn delete_model(app: &App, body: &[u8]) -> Result<(), ApiError> {
    let request: DeleteRequest = request::decode(body)?;
    let target = request.target();
    let name = ModelName::parse(target)
        .map_err(|_| ApiError::bad_request(format!("name \"{target}\" is invalid")))?;
    let installed = app.find(&name).ok_or_else(|| ApiError::model_not_found(target))?;
    app.shared().scheduler.expire(&installed.spec);
    app.shared().catalog.lock().remove(&name);
    Ok(())
}

/// `HEAD /api/blobs/:digest` (exists?) and `POST` (upload). Uploads are not
/// hashed: the simulator trusts the digest it is given.
pub(crate) fn blob(app: &App, method: &Method, digest: &str, body: &[u8]) -> Response<Body> {
    if *method == Method::HEAD {
        if app.shared().catalog.lock().has_blob(digest) {
            return response::status(StatusCode::OK);
        }
        return response::error(&ApiError::not_found(format!("blob \"{digest}\" not found")));
    }
    if !is_digest(digest) {
        return response::error(&ApiError::bad_request("invalid digest format"));
    }
    tracing::debug!(digest, bytes = body.len(), "blob uploaded");
    if app.shared().catalog.lock().add_blob(digest) {
        response::status(StatusCode::CREATED)
    } else {
        response::status(StatusCode::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest(&"a".repeat(64)));
    }
}
