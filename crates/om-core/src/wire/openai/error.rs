//! The `/v1` error body: `{"error":{"message","type","param":null,"code":null}}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An OpenAI-shaped error with the HTTP status to answer with.
///
/// Ollama's `/v1` routes keep the native status and message and only reshape
/// the body (`OLLAMA_API.md` §7.5). The status is not part of the body: it is
/// skipped when serialising and is `0` ("unknown") after deserialising until
/// the caller fills it in from the HTTP response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiError {
    /// The HTTP status (not serialised).
    #[serde(skip)]
    pub status: u16,
    /// The body.
    pub error: OpenAiErrorDetail,
}

/// The inner object of an [`OpenAiError`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiErrorDetail {
    /// The native message, verbatim.
    pub message: String,
    /// `invalid_request_error` (400), `not_found_error` (404) or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `null` from Ollama.
    #[serde(default)]
    pub param: Option<String>,
    /// Always `null` from Ollama.
    #[serde(default)]
    pub code: Option<String>,
}

impl OpenAiError {
    /// The error Ollama's `/v1` layer sends for a native `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            400 => "invalid_request_error",
            404 => "not_found_error",
            _ => "api_error",
        };
        Self {
            status,
            error: OpenAiErrorDetail {
                message: message.into(),
                kind: kind.to_owned(),
                param: None,
                code: None,
            },
        }
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// The same status and message as a stack [`crate::Error`].
    pub fn from_error(error: &crate::Error) -> Self {
        Self::new(error.http_status(), error.message())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.error.message
    }

    /// True for a 400 `invalid_request_error`.
    pub fn is_invalid_request(&self) -> bool {
        self.error.kind == "invalid_request_error"
    }

    /// True for a 404 `not_found_error`.
    pub fn is_not_found(&self) -> bool {
        self.error.kind == "not_found_error"
    }
}

impl fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for OpenAiError {}

impl From<OpenAiError> for crate::Error {
    fn from(error: OpenAiError) -> Self {
        Self::from_status(error.status, error.error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape_and_types() {
        let e = OpenAiError::new(404, "model 'x' not found");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"error":{"message":"model 'x' not found","type":"not_found_error","param":null,"code":null}}"#
        );
        assert!(e.is_not_found());
        assert_eq!(OpenAiError::new(400, "bad").error.kind, "invalid_request_error");
        assert!(OpenAiError::invalid_request("bad").is_invalid_request());
        assert_eq!(OpenAiError::new(500, "boom").error.kind, "api_error");
        assert_eq!(OpenAiError::new(503, "busy").error.kind, "api_error");
        assert_eq!(e.to_string(), "model 'x' not found");
    }

    #[test]
    fn parses_back_and_converts() {
        let body = r#"{"error":{"message":"m","type":"api_error","param":null,"code":null}}"#;
        let mut e: OpenAiError = serde_json::from_str(body).unwrap();
        assert_eq!(e.status, 0);
        e.status = 503;
        let core: crate::Error = e.into();
        assert!(core.is_busy());
        let back = OpenAiError::from_error(&crate::Error::from_status(404, "gone"));
        assert_eq!((back.status, back.message()), (404, "gone"));
    }
}
