//! Native calls to an OpenAI-compatible endpoint: each call is rewritten
//! for `/v1` before it is sent, and its answer is turned back into what
//! Ollama would have written, as the body is read ([`Translator`], which
//! the body reader runs). Everything above the body reader — typed
//! streams, raw lines for the gateway, limits, timeouts, partial errors —
//! is the same for both kinds of endpoint.
//!
//! | native call | sent as | answered with |
//! |---|---|---|
//! | `GET /`, `/api/version` | `GET /v1/models` | nothing / `{"version":"openai-compatible"}` |
//! | `GET /api/tags`, `/api/ps` | `GET /v1/models` | the listed models (all of them ready) |
//! | `POST /api/show` | `GET /v1/models` | the model's entry, or 404 |
//! | `POST /api/chat`, `/api/generate` | `POST /v1/chat/completions` | native lines, SSE converted as it arrives |
//! | `POST /api/generate`, `raw` or with a `suffix` | `POST /v1/completions` (the prompt as written) | the same |
//! | `POST /api/embed`, `/api/embeddings` | `POST /v1/embeddings` | the native object |
//!
//! A call that came from a `/v1` client carries that client's own request
//! ([`RawRequest::openai_body`](crate::RawRequest)): it is sent as written
//! to the path the native call stands for, so nothing the native form
//! cannot say is lost on the way — except what the conversion of the
//! answer needs: a stream asks for the usage chunk, and embeddings come as
//! floats. The answer is converted as above.
//!
//! Model management (`pull`, `push`, `create`, `copy`, `delete`) has no
//! OpenAI counterpart and is refused with a message saying so.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::Method;
use om_core::wire::openai::{
    AnswerShape, BackendModel, ChatCompletionRequest, CompletionRequest, NativeStream,
    chat_for_generate, embeddings_request, is_plain_completion, native_embed, native_embeddings,
    native_whole,
};
use om_core::wire::{
    ChatRequest, EmbedRequest, EmbeddingsRequest, GenerateRequest, Metrics, ShowRequest,
    VersionResponse,
};
use om_core::{DeclaredCapabilities, Error, ErrorKind};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::client::Call;

/// The version an OpenAI-compatible endpoint reports (it has none).
pub const OPENAI_VERSION: &str = "openai-compatible";

/// Where the `/v1` paths are, relative to the endpoint's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// The URL is the server's root: paths start with `/v1`.
    Root,
    /// The URL already ends with `/v1` (as OpenAI SDK base URLs do).
    V1,
}

impl Base {
    /// The base of an endpoint whose URL has this path prefix.
    pub(crate) fn of(prefix: &str) -> Self {
        if prefix.ends_with("/v1") { Self::V1 } else { Self::Root }
    }

    fn models(self) -> &'static str {
        match self {
            Self::Root => "/v1/models",
            Self::V1 => "/models",
        }
    }

    fn chat(self) -> &'static str {
        match self {
            Self::Root => "/v1/chat/completions",
            Self::V1 => "/chat/completions",
        }
    }

    fn completions(self) -> &'static str {
        match self {
            Self::Root => "/v1/completions",
            Self::V1 => "/completions",
        }
    }

    fn embeddings(self) -> &'static str {
        match self {
            Self::Root => "/v1/embeddings",
            Self::V1 => "/embeddings",
        }
    }
}

/// What the answer is turned into.
#[derive(Debug)]
enum Answer {
    /// SSE chunks, converted line by line.
    Stream(Box<NativeStream>),
    /// One chat or legacy completion.
    Whole {
        model: String,
        shape: AnswerShape,
    },
    Embed(EmbedRequest),
    Embeddings(EmbeddingsRequest),
    Version,
    Tags,
    Ps,
    Show(String),
    /// The body is not needed (a heartbeat).
    Ignore,
}

/// Rewrites a native call for an OpenAI-compatible endpoint, and returns
/// the translator of its answer.
///
/// # Errors
///
/// A native call with no OpenAI counterpart, or a body that is not the
/// native request its path names ([`ErrorKind::InvalidRequest`]).
pub(crate) fn translate(
    call: &Call,
    base: Base,
    limit: usize,
    declared: Option<Arc<DeclaredCapabilities>>,
) -> Result<(Call, Translator), Error> {
    let get = |answer| {
        let call = Call {
            method: Method::GET,
            path: base.models(),
            body: None,
            accept: call.accept.clone(),
            authorization: call.authorization.clone(),
            openai_body: None,
        };
        (call, answer)
    };
    let post = |path, body: Bytes, answer| {
        let call = Call {
            method: Method::POST,
            path,
            body: Some(body),
            accept: call.accept.clone(),
            authorization: call.authorization.clone(),
            openai_body: None,
        };
        (call, answer)
    };
    let body = call.body.as_deref().unwrap_or_default();
    let (call, answer) = match call.path {
        "/" => get(Answer::Ignore),
        "/api/version" => get(Answer::Version),
        "/api/tags" => get(Answer::Tags),
        "/api/ps" => get(Answer::Ps),
        "/api/show" => {
            let request: ShowRequest = native(body, "show")?;
            get(Answer::Show(request.target().to_owned()))
        }
        "/api/chat" => {
            let request: ChatRequest = native(body, "chat")?;
            match &call.openai_body {
                Some(sent) => {
                    let answer = lines_of(&request.model, request.is_stream(), AnswerShape::Chat);
                    post(base.chat(), as_written(sent, request.is_stream())?, answer)
                }
                None => chat(&request, AnswerShape::Chat, base, post)?,
            }
        }
        "/api/generate" => {
            let request: GenerateRequest = native(body, "generate")?;
            let stream = request.is_stream();
            if let Some(sent) = &call.openai_body {
                let answer = lines_of(&request.model, stream, AnswerShape::Generate);
                post(base.completions(), as_written(sent, stream)?, answer)
            } else if is_plain_completion(&request) {
                let body = encode(&CompletionRequest::from_native(&request))?;
                post(
                    base.completions(),
                    body,
                    lines_of(&request.model, stream, AnswerShape::Generate),
                )
            } else {
                chat(&chat_for_generate(&request), AnswerShape::Generate, base, post)?
            }
        }
        "/api/embed" => {
            let request: EmbedRequest = native(body, "embed")?;
            let body = if let Some(sent) = &call.openai_body {
                // The client's `base64` is the face's to make, from floats.
                rewritten(sent, |request| {
                    request.insert("encoding_format".to_owned(), "float".into());
                })?
            } else {
                let input: Vec<&str> =
                    request.input.as_ref().map(|i| i.texts()).unwrap_or_default();
                encode(&embeddings_request(&request.model, &input, request.dimensions))?
            };
            post(base.embeddings(), body, Answer::Embed(request))
        }
        "/api/embeddings" => {
            let request: EmbeddingsRequest = native(body, "embeddings")?;
            let body = embeddings_request(&request.model, &[request.prompt.as_str()], None);
            post(base.embeddings(), encode(&body)?, Answer::Embeddings(request))
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{other} has no counterpart on an OpenAI-compatible endpoint: manage its models on the server itself"
                ),
            ));
        }
    };
    Ok((call, Translator::new(answer, limit, declared)))
}

fn chat(
    request: &ChatRequest,
    shape: AnswerShape,
    base: Base,
    post: impl Fn(&'static str, Bytes, Answer) -> (Call, Answer),
) -> Result<(Call, Answer), Error> {
    let body = encode(&ChatCompletionRequest::from_native(request))?;
    Ok(post(base.chat(), body, lines_of(&request.model, request.is_stream(), shape)))
}

/// The answer of a chat or a legacy completion, streamed or whole.
fn lines_of(model: &str, stream: bool, shape: AnswerShape) -> Answer {
    if stream {
        Answer::Stream(Box::new(NativeStream::new(model, shape)))
    } else {
        Answer::Whole { model: model.to_owned(), shape }
    }
}

fn native<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(ErrorKind::InvalidRequest, format!("not a native {what} request: {e}"))
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
        Error::new(ErrorKind::Internal, "the OpenAI request does not serialise").with_source(e)
    })
}

/// A `/v1` request as its client wrote it; a stream also asks for the
/// usage chunk, whose counts the fleet records (the answer is converted,
/// so the client gets the usage only if it asked).
fn as_written(sent: &Bytes, stream: bool) -> Result<Bytes, Error> {
    if !stream {
        return Ok(sent.clone());
    }
    rewritten(sent, |request| {
        let options = request
            .entry("stream_options")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        match options.as_object_mut() {
            Some(options) => {
                options.insert("include_usage".to_owned(), true.into());
            }
            None => *options = serde_json::json!({ "include_usage": true }),
        }
    })
}

/// `sent` with `edit` made to its top-level object.
fn rewritten(
    sent: &Bytes,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Result<Bytes, Error> {
    let mut request: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(sent)
        .map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, format!("not an OpenAI request object: {e}"))
        })?;
    edit(&mut request);
    encode(&request)
}

/// Turns an OpenAI answer into native bytes as it is read.
#[derive(Debug)]
pub(crate) struct Translator {
    answer: Answer,
    /// Bytes of an SSE line not yet complete, or of a whole answer.
    pending: BytesMut,
    /// The most a whole answer (or one SSE line) may hold.
    limit: usize,
    /// What the configuration says the models can do (for `show`, `tags`
    /// and `ps`).
    declared: Option<Arc<DeclaredCapabilities>>,
    out: VecDeque<Bytes>,
    started: Instant,
    first_piece: Option<Instant>,
    last_piece: Option<Instant>,
    ended: bool,
}

impl Translator {
    fn new(answer: Answer, limit: usize, declared: Option<Arc<DeclaredCapabilities>>) -> Self {
        Self {
            answer,
            pending: BytesMut::new(),
            limit,
            declared,
            out: VecDeque::new(),
            started: Instant::now(),
            first_piece: None,
            last_piece: None,
            ended: false,
        }
    }

    /// True when the answer is NDJSON (a stream), false for one object.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self.answer, Answer::Stream(_))
    }

    /// The next native bytes ready.
    pub(crate) fn take(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }

    /// True once the answer is complete (nothing more will be produced).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// Reads more of the OpenAI body.
    ///
    /// # Errors
    ///
    /// When the body is not in the shape expected, or is longer than the
    /// limit ([`ErrorKind::Protocol`]).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(bytes);
        if !self.is_stream() {
            if self.pending.len() > self.limit {
                return Err(protocol(format!("answered more than {} bytes", self.limit)));
            }
            return Ok(());
        }
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line = self.pending.split_to(end + 1);
            self.sse_line(&line[..end])?;
            if self.ended {
                return Ok(());
            }
        }
        if self.pending.len() > self.limit {
            return Err(protocol(format!("sent an SSE line longer than {} bytes", self.limit)));
        }
        Ok(())
    }

    /// The body has ended.
    ///
    /// # Errors
    ///
    /// When what was read is not in the shape expected.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        if self.ended {
            return Ok(());
        }
        if self.is_stream() {
            let rest = std::mem::take(&mut self.pending);
            if !rest.is_empty() {
                self.sse_line(&rest)?;
            }
            // Some servers end without `[DONE]`; once they said why they
            // stopped the answer is complete. Otherwise the native stream
            // lacks its `done` line, which reads as a broken answer.
            if !self.ended
                && let Answer::Stream(stream) = &self.answer
                && stream.has_finished()
            {
                self.finish_stream()?;
            }
            self.ended = true;
            return Ok(());
        }
        self.ended = true;
        let body = std::mem::take(&mut self.pending);
        let timing = self.timing();
        let created_at = now();
        let bytes = match &self.answer {
            // Streams ended above.
            Answer::Stream(_) | Answer::Ignore => return Ok(()),
            Answer::Whole { model, shape } => Bytes::from(
                native_whole(&body, model, *shape, &created_at, timing).map_err(protocol)?,
            ),
            Answer::Embed(request) => {
                encode(&native_embed(&body, request, timing).map_err(protocol)?)?
            }
            Answer::Embeddings(request) => {
                encode(&native_embeddings(&body, request).map_err(protocol)?)?
            }
            Answer::Version => {
                BackendModel::parse_list(&body).map_err(protocol)?;
                encode(&VersionResponse { version: OPENAI_VERSION.to_owned() })?
            }
            Answer::Tags => encode(&BackendModel::native_list(&self.models(&body)?))?,
            Answer::Ps => encode(&BackendModel::native_ps(&self.models(&body)?))?,
            Answer::Show(model) => {
                let models = self.models(&body)?;
                let wanted = om_core::ModelName::parse(model).ok();
                let found = models.iter().find(|m| {
                    m.id == *model
                        || wanted.as_ref().is_some_and(|w| {
                            om_core::ModelName::parse(&m.id).is_ok_and(|n| n == *w)
                        })
                });
                match found {
                    Some(found) => encode(&found.native_show())?,
                    None => {
                        return Err(Error::new(
                            ErrorKind::ModelNotFound,
                            format!("model '{model}' not found"),
                        ));
                    }
                }
            }
        };
        self.out.push_back(bytes);
        Ok(())
    }

    /// The models a `/v1/models` answer lists, with what the
    /// configuration declares of them.
    fn models(&self, body: &[u8]) -> Result<Vec<BackendModel>, Error> {
        let mut models = BackendModel::parse_list(body).map_err(protocol)?;
        if let Some(declared) = &self.declared {
            BackendModel::declare(&mut models, declared);
        }
        Ok(models)
    }

    fn sse_line(&mut self, line: &[u8]) -> Result<(), Error> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Event names, ids, comments and blank separators carry nothing the
        // chunks do not.
        let Some(data) = line.strip_prefix(b"data:") else { return Ok(()) };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data.trim_ascii() == b"[DONE]" {
            return self.finish_stream();
        }
        if data.trim_ascii().is_empty() {
            return Ok(());
        }
        let created_at = now();
        let Answer::Stream(stream) = &mut self.answer else { return Ok(()) };
        let pieces = stream.push(data, &created_at).map_err(protocol)?;
        let bytes = stream.take();
        if pieces > 0 {
            let now = Instant::now();
            self.first_piece.get_or_insert(now);
            self.last_piece = Some(now);
        }
        if !bytes.is_empty() {
            self.out.push_back(Bytes::from(bytes));
        }
        Ok(())
    }

    fn finish_stream(&mut self) -> Result<(), Error> {
        self.ended = true;
        let timing = self.timing();
        let Answer::Stream(stream) = &mut self.answer else { return Ok(()) };
        stream.finish(&now(), timing).map_err(protocol)?;
        self.out.push_back(Bytes::from(stream.take()));
        Ok(())
    }

    /// The durations measured here: to the first piece (the prompt), from
    /// it to the last (generation), and the whole call.
    fn timing(&self) -> Metrics {
        let nanos = |from: Instant, to: Instant| {
            u64::try_from(to.saturating_duration_since(from).as_nanos()).ok().filter(|n| *n > 0)
        };
        let now = Instant::now();
        Metrics {
            total_duration: nanos(self.started, now),
            prompt_eval_duration: self.first_piece.and_then(|first| nanos(self.started, first)),
            eval_duration: self.first_piece.zip(self.last_piece).and_then(|(f, l)| nanos(f, l)),
            ..Metrics::default()
        }
    }
}

fn protocol(message: impl Into<String>) -> Error {
    let message = message.into();
    Error::new(
        ErrorKind::Protocol,
        format!("answers neither the Ollama nor the OpenAI API: {message}"),
    )
}

fn now() -> String {
    om_core::time::format_rfc3339(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use om_core::wire::{ListResponse, ShowResponse};

    use super::*;

    fn call(path: &'static str, body: &str) -> Call {
        Call {
            method: Method::POST,
            path,
            body: Some(Bytes::from(body.to_owned())),
            accept: HeaderValue::from_static("application/x-ndjson"),
            authorization: None,
            openai_body: None,
        }
    }

    fn drain(t: &mut Translator) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = t.take() {
            out.extend_from_slice(&bytes);
        }
        out
    }

    const SSE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n\
        : keep-alive\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\n\
        data: [DONE]\n\n";

    #[test]
    fn paths_and_refusals() {
        let (sent, t) =
            translate(&call("/api/chat", r#"{"model":"m","messages":[]}"#), Base::Root, 1024, None)
                .unwrap();
        assert_eq!(sent.path, "/v1/chat/completions");
        assert!(t.is_stream(), "native chat streams by default");
        let (sent, t) =
            translate(&call("/api/embed", r#"{"model":"e","input":"x"}"#), Base::V1, 1024, None)
                .unwrap();
        assert_eq!(sent.path, "/embeddings");
        assert!(!t.is_stream());
        let (sent, _) =
            translate(&call("/api/show", r#"{"model":"m"}"#), Base::Root, 1024, None).unwrap();
        assert_eq!((sent.method, sent.path), (Method::GET, "/v1/models"));
        let refused =
            translate(&call("/api/pull", r#"{"model":"m"}"#), Base::Root, 1024, None).unwrap_err();
        assert!(
            refused.kind() == ErrorKind::InvalidRequest && refused.message().contains("/api/pull"),
            "{refused}"
        );
        let bad = translate(&call("/api/chat", "{"), Base::Root, 1024, None).unwrap_err();
        assert!(bad.message().contains("not a native chat request"), "{bad}");
        assert_eq!(Base::of("/v1"), Base::V1);
        assert_eq!(Base::of(""), Base::Root);
    }

    #[test]
    fn sse_becomes_ndjson_however_it_is_cut() {
        let whole = {
            let (_, mut t) = translate(
                &call("/api/chat", r#"{"model":"m","messages":[]}"#),
                Base::Root,
                1024,
                None,
            )
            .unwrap();
            t.push(SSE.as_bytes()).unwrap();
            assert!(t.is_ended());
            drain(&mut t)
        };
        let lines: Vec<serde_json::Value> = whole
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"]["content"], "Hi");
        assert_eq!(lines[1]["done"], true);
        assert_eq!(lines[1]["eval_count"], 1);
    }

    proptest! {
        #[test]
        fn cuts_do_not_change_the_lines(cuts in proptest::collection::vec(0..SSE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (_, mut t) = translate(&call("/api/chat", r#"{"model":"m","messages":[]}"#), Base::Root, 1024, None).unwrap();
            let mut at = 0;
            let mut out = Vec::new();
            for cut in cuts.into_iter().chain([SSE.len()]) {
                t.push(&SSE.as_bytes()[at..cut]).unwrap();
                out.extend(drain(&mut t));
                at = cut;
            }
            t.end().unwrap();
            out.extend(drain(&mut t));
            let lines: Vec<serde_json::Value> = out
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            prop_assert_eq!(lines.len(), 2);
            prop_assert_eq!(&lines[0]["message"]["content"], "Hi");
            prop_assert_eq!(&lines[1]["done"], true);
        }

        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (_, mut t) = translate(&call("/api/chat", r#"{"model":"m","messages":[]}"#), Base::Root, 128, None).unwrap();
            if t.push(&bytes).is_ok() {
                let _ = t.end();
            }
            let (_, mut whole) = translate(&call("/api/tags", ""), Base::Root, 128, None).unwrap();
            if whole.push(&bytes).is_ok() {
                let _ = whole.end();
            }
        }
    }

    #[test]
    fn a_stream_without_done_or_finish_is_left_incomplete() {
        let (_, mut t) =
            translate(&call("/api/chat", r#"{"model":"m","messages":[]}"#), Base::Root, 1024, None)
                .unwrap();
        t.push(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n").unwrap();
        t.end().unwrap();
        let out = drain(&mut t);
        assert!(!String::from_utf8(out).unwrap().contains("\"done\":true"));
    }

    #[test]
    fn whole_answers_and_show() {
        let (_, mut t) =
            translate(&call("/api/show", r#"{"model":"qwen"}"#), Base::Root, 1024, None).unwrap();
        t.push(br#"{"data":[{"id":"qwen"}]}"#).unwrap();
        t.end().unwrap();
        assert!(String::from_utf8(drain(&mut t)).unwrap().contains("\"completion\""));
        let (_, mut missing) =
            translate(&call("/api/show", r#"{"model":"nope"}"#), Base::Root, 1024, None).unwrap();
        missing.push(br#"{"data":[{"id":"qwen"}]}"#).unwrap();
        assert!(missing.end().unwrap_err().is_model_not_found());
        let (_, mut html) = translate(&call("/api/version", ""), Base::Root, 1024, None).unwrap();
        html.push(b"<html>hello</html>").unwrap();
        let error = html.end().unwrap_err();
        assert!(
            error.message().starts_with("answers neither the Ollama nor the OpenAI API"),
            "{error}"
        );
        let (_, mut big) = translate(&call("/api/tags", ""), Base::Root, 4, None).unwrap();
        assert!(big.push(b"0123456789").is_err());
    }

    #[test]
    fn a_v1_clients_own_request_is_sent_as_written() {
        let sent = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"tool_choice":"required","grammar":"root ::= \"x\"","stream_options":{"include_usage":false}}"#;
        let with = |path, native: &str| Call {
            openai_body: Some(Bytes::from(sent.to_owned())),
            ..call(path, native)
        };
        let native = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let (out, t) = translate(&with("/api/chat", native), Base::Root, 1024, None).unwrap();
        assert_eq!(out.path, "/v1/chat/completions");
        assert!(t.is_stream());
        let body: serde_json::Value = serde_json::from_slice(out.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["tool_choice"], "required");
        assert_eq!(body["grammar"], "root ::= \"x\"");
        // The fleet records the counts, so a stream asks for them.
        assert_eq!(body["stream_options"]["include_usage"], true);
        // Not streamed: the very bytes.
        let whole = r#"{"model":"m","messages":[],"stream":false,"logit_bias":{"50256":-100}}"#;
        let unstreamed = Call {
            openai_body: Some(Bytes::from(whole)),
            ..call("/api/chat", r#"{"model":"m","messages":[],"stream":false}"#)
        };
        let (out, _) = translate(&unstreamed, Base::V1, 1024, None).unwrap();
        assert_eq!((out.path, out.body.as_deref()), ("/chat/completions", Some(whole.as_bytes())));
        // A legacy completion goes to its own path.
        let legacy = Call {
            openai_body: Some(Bytes::from(r#"{"model":"m","prompt":"x","echo":true}"#)),
            ..call("/api/generate", r#"{"model":"m","prompt":"x","stream":false}"#)
        };
        assert_eq!(translate(&legacy, Base::Root, 1024, None).unwrap().0.path, "/v1/completions");
        // Embeddings come back as floats, whatever the client asked: the
        // face encodes them itself.
        let embed = Call {
            openai_body: Some(Bytes::from(
                r#"{"model":"e","input":"x","encoding_format":"base64","user":"u"}"#,
            )),
            ..call("/api/embed", r#"{"model":"e","input":"x"}"#)
        };
        let (out, _) = translate(&embed, Base::Root, 1024, None).unwrap();
        let body: serde_json::Value = serde_json::from_slice(out.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            (out.path, &body["encoding_format"], &body["user"]),
            ("/v1/embeddings", &"float".into(), &"u".into())
        );
    }

    #[test]
    fn declared_capabilities_replace_the_guess() {
        use om_core::{Capabilities, Capability};
        let vision = Capabilities::of(&[Capability::Completion, Capability::Vision]);
        let declared = Arc::new(
            DeclaredCapabilities::default()
                .with_model("qwen-vl", vision)
                .with_model("nomic-embed", Capabilities::of(&[Capability::Embedding])),
        );
        let list = br#"{"data":[{"id":"qwen-vl"},{"id":"nomic-embed"},{"id":"other"}]}"#;
        let (_, mut tags) =
            translate(&call("/api/tags", ""), Base::Root, 1024, Some(declared.clone())).unwrap();
        tags.push(list).unwrap();
        tags.end().unwrap();
        let tags: ListResponse = serde_json::from_slice(&drain(&mut tags)).unwrap();
        let of = |i: usize| tags.models[i].capabilities.clone().unwrap();
        assert_eq!(of(0), ["completion", "vision"]);
        assert_eq!(of(1), ["embedding"]);
        // Not declared: guessed from the name.
        assert_eq!(of(2), ["completion", "tools"]);
        let (_, mut show) = translate(
            &call("/api/show", r#"{"model":"qwen-vl"}"#),
            Base::Root,
            1024,
            Some(declared),
        )
        .unwrap();
        show.push(list).unwrap();
        show.end().unwrap();
        let show: ShowResponse = serde_json::from_slice(&drain(&mut show)).unwrap();
        assert_eq!(show.capabilities.unwrap(), ["completion", "vision"]);
    }
}
