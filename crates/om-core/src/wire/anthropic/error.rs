//! The Anthropic error body: `{"type":"error","error":{"type","message"}}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An Anthropic-shaped error with the HTTP status to answer with.
///
/// The status is the native one, as on `/v1`; only the body is reshaped.
/// Its `type` follows Anthropic's names for the status, which is what the
/// SDKs turn into their exception classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnthropicError {
    /// The HTTP status (not serialised).
    #[serde(skip)]
    pub status: u16,
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong.
    pub error: AnthropicErrorDetail,
}

/// The inner object of an [`AnthropicError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnthropicErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `not_found_error`,
    /// `request_too_large`, `rate_limit_error`, `overloaded_error` or
    /// `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The message, verbatim.
    pub message: String,
}

impl AnthropicError {
    /// The error for a native `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            400 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        };
        Self {
            status,
            kind: "error".to_owned(),
            error: AnthropicErrorDetail { kind: kind.to_owned(), message: message.into() },
        }
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.error.message
    }

    /// True for a 400 `invalid_request_error`.
    pub fn is_invalid_request(&self) -> bool {
        self.error.kind == "invalid_request_error"
    }
}

impl fmt::Display for AnthropicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.kind, self.error.message)
    }
}

impl std::error::Error for AnthropicError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_kinds() {
        let error = AnthropicError::new(404, "model 'x' not found");
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({"type":"error","error":{"type":"not_found_error","message":"model 'x' not found"}})
        );
        assert_eq!(AnthropicError::new(503, "busy").error.kind, "overloaded_error");
        assert_eq!(AnthropicError::new(500, "x").error.kind, "api_error");
        assert!(AnthropicError::invalid_request("x").is_invalid_request());
    }
}
