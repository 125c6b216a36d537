//! Errors a handler answers with, carrying Ollama's status and exact text.

use http::StatusCode;

use crate::fault::SIMULATED_FAILURE;
use crate::scheduler::Busy;

/// A failed request: the status and the `error` text of the JSON body
/// (`OLLAMA_API.md` §11.17). The `/v1` routes reshape it (§7.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 400 `missing request body`.
    pub(crate) fn missing_body() -> Self {
        Self::bad_request("missing request body")
    }

    /// 400 `model is required`.
    pub(crate) fn model_required() -> Self {
        Self::bad_request("model is required")
    }

    /// 400 `invalid model name`.
    pub(crate) fn invalid_model_name() -> Self {
        Self::bad_request("invalid model name")
    }

    /// 404 `model 'x' not found` (generate, chat, show, delete).
    pub(crate) fn model_not_found(requested: &str) -> Self {
        Self::not_found(format!("model '{requested}' not found"))
    }

    /// 404 `model "x" not found, try pulling it first` (embed, embeddings).
    pub(crate) fn model_not_pulled(requested: &str) -> Self {
        Self::not_found(format!("model \"{requested}\" not found, try pulling it first"))
    }

    /// 500 `simulated failure` (the `error_rate` fault).
    pub(crate) fn simulated() -> Self {
        Self::internal(SIMULATED_FAILURE)
    }
}

impl From<Busy> for ApiError {
    fn from(busy: Busy) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, busy.to_string())
    }
}

/// Ends the connection without a (complete) response: the disconnect fault,
/// flapping, or a request that must look like a dead server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection dropped on purpose")]
pub(crate) struct Dropped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_texts() {
        assert_eq!(ApiError::model_not_found("x").message, "model 'x' not found");
        assert_eq!(
            ApiError::model_not_pulled("x").message,
            "model \"x\" not found, try pulling it first"
        );
        let busy = ApiError::from(Busy);
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            busy.message,
            "server busy, please try again.  maximum pending requests exceeded"
        );
        assert_eq!(ApiError::model_not_found("x").status, StatusCode::NOT_FOUND);
    }
}
