//! `POST /v1/embeddings`: the request, the response and their conversions
//! (`OLLAMA_API.md` §7.3).

use serde::{Deserialize, Serialize};

use super::error::OpenAiError;
use crate::wire::{EmbedInput, EmbedRequest, EmbedResponse};

/// A `/v1/embeddings` request. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model.
    #[serde(default)]
    pub model: String,
    /// One text or several; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<EmbedInput>,
    /// Cut vectors to this length (0 means no cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
    /// `float` (default) or `base64`, any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
}

/// How vectors are written in an [`EmbeddingResponse`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes.
    Base64,
}

impl EmbeddingRequest {
    /// The requested encoding.
    ///
    /// # Errors
    ///
    /// A 400 [`OpenAiError`] `Invalid value for 'encoding_format' = x.
    /// Supported values: ['float', 'base64'].` for anything else.
    pub fn encoding(&self) -> Result<EncodingFormat, OpenAiError> {
        match self.encoding_format.as_deref() {
            None | Some("") => Ok(EncodingFormat::Float),
            Some(f) if f.eq_ignore_ascii_case("float") => Ok(EncodingFormat::Float),
            Some(f) if f.eq_ignore_ascii_case("base64") => Ok(EncodingFormat::Base64),
            Some(other) => Err(OpenAiError::invalid_request(format!(
                "Invalid value for 'encoding_format' = {other}. Supported values: ['float', 'base64']."
            ))),
        }
    }

    /// The native `/api/embed` request: `""` becomes `[""]` (so it embeds
    /// rather than only loading the model).
    ///
    /// # Errors
    ///
    /// A 400 [`OpenAiError`]: `invalid input` when `input` is absent, null or
    /// `[]`; the [`EmbeddingRequest::encoding`] error for a bad
    /// `encoding_format`.
    pub fn to_native(&self) -> Result<EmbedRequest, OpenAiError> {
        let input = match &self.input {
            None => return Err(OpenAiError::invalid_request("invalid input")),
            Some(EmbedInput::Many(texts)) if texts.is_empty() => {
                return Err(OpenAiError::invalid_request("invalid input"));
            }
            Some(EmbedInput::One(text)) if text.is_empty() => EmbedInput::Many(vec![String::new()]),
            Some(input) => input.clone(),
        };
        self.encoding()?;
        Ok(EmbedRequest {
            model: self.model.clone(),
            input: Some(input),
            dimensions: self.dimensions.filter(|d| *d > 0),
            ..EmbedRequest::default()
        })
    }
}

/// A `/v1/embeddings` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// `list`.
    pub object: String,
    /// One entry per input, in input order.
    pub data: Vec<EmbeddingData>,
    /// The model as requested.
    pub model: String,
    /// Token counts.
    #[serde(default)]
    pub usage: EmbeddingUsage,
}

/// One vector of an [`EmbeddingResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingData {
    /// `embedding`.
    pub object: String,
    /// The vector, as numbers or base64.
    pub embedding: EmbeddingVector,
    /// Position of the input.
    pub index: u32,
}

/// A vector in either encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`.
    Base64(String),
}

/// `usage` of an [`EmbeddingResponse`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingUsage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// The same number.
    #[serde(default)]
    pub total_tokens: u64,
}

impl EmbeddingResponse {
    /// The response for a native `/api/embed` response.
    pub fn from_native(native: &EmbedResponse, encoding: EncodingFormat) -> Self {
        let tokens = native.prompt_eval_count.unwrap_or(0);
        Self {
            object: "list".to_owned(),
            data: native
                .embeddings
                .iter()
                .enumerate()
                .map(|(i, vector)| EmbeddingData {
                    object: "embedding".to_owned(),
                    embedding: match encoding {
                        EncodingFormat::Float => EmbeddingVector::Float(vector.clone()),
                        EncodingFormat::Base64 => EmbeddingVector::Base64(floats_to_base64(vector)),
                    },
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                })
                .collect(),
            model: native.model.clone(),
            usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
        }
    }
}

/// Standard padded base64 of the little-endian bytes of `floats`.
fn floats_to_base64(floats: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn request(body: Value) -> EmbeddingRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn input_forms() {
        let n = request(json!({"model": "e", "input": ""})).to_native().unwrap();
        assert_eq!(n.input, Some(EmbedInput::Many(vec![String::new()])));
        let n = request(json!({"model": "e", "input": "hi", "dimensions": 4})).to_native().unwrap();
        assert_eq!(n.input, Some(EmbedInput::One("hi".to_owned())));
        assert_eq!(n.dimensions, Some(4));
        let n = request(json!({"model": "e", "input": ["a", "b"], "dimensions": 0}))
            .to_native()
            .unwrap();
        assert_eq!(n.input, Some(EmbedInput::Many(vec!["a".to_owned(), "b".to_owned()])));
        assert_eq!(n.dimensions, None);
        for body in [
            json!({"model": "e", "input": []}),
            json!({"model": "e", "input": null}),
            json!({"model": "e"}),
        ] {
            let e = request(body).to_native().unwrap_err();
            assert_eq!((e.status, e.message()), (400, "invalid input"));
        }
    }

    #[test]
    fn encoding_formats() {
        let enc = |f: &str| request(json!({"model": "e", "input": "x", "encoding_format": f}));
        assert_eq!(enc("float").encoding().unwrap(), EncodingFormat::Float);
        assert_eq!(enc("BASE64").encoding().unwrap(), EncodingFormat::Base64);
        assert_eq!(enc("").encoding().unwrap(), EncodingFormat::Float);
        let e = enc("int8").to_native().unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message(),
            "Invalid value for 'encoding_format' = int8. Supported values: ['float', 'base64']."
        );
    }

    #[test]
    fn response_shapes() {
        let native = EmbedResponse {
            model: "e".to_owned(),
            embeddings: vec![vec![1.0, 0.0], vec![0.0, -1.0]],
            prompt_eval_count: Some(3),
            ..EmbedResponse::default()
        };
        let r = EmbeddingResponse::from_native(&native, EncodingFormat::Float);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"object": "list", "data": [
                {"object": "embedding", "embedding": [1.0, 0.0], "index": 0},
                {"object": "embedding", "embedding": [0.0, -1.0], "index": 1}],
                "model": "e", "usage": {"prompt_tokens": 3, "total_tokens": 3}})
        );
        let r = EmbeddingResponse::from_native(&native, EncodingFormat::Base64);
        // 1.0f32 = 00 00 80 3f, 0.0f32 = 00 00 00 00 (little-endian).
        assert_eq!(r.data[0].embedding, EmbeddingVector::Base64("AACAPwAAAAA=".to_owned()));
    }

    #[test]
    fn base64_padding() {
        assert_eq!(floats_to_base64(&[]), "");
        assert_eq!(floats_to_base64(&[1.0]), "AACAPw==");
        assert_eq!(floats_to_base64(&[-2.5, 0.5, 1.0]), "AAAgwAAAAD8AAIA/");
    }
}
