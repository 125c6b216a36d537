//! The response bodies the gateway writes: a whole buffer, an instance's
//! answer forwarded line by line, or a translated stream (`/v1` SSE).

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use om_orchestrator::Forwarded;

/// A response body. Each item becomes one HTTP/1.1 chunk, written as soon
/// as it is ready: lines are never held back or re-cut.
///
/// Dropping it (the connection does when the client goes away) drops the upstream
/// answer, which closes its connection: that is how a client's disconnect
/// stops generation upstream.
pub(crate) struct Body {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    /// An instance's lines as they come; a failure after the first one
    /// ends the body with an `{"error": …}` line, as Ollama does.
    Lines {
        answer: Box<Forwarded>,
        ended: bool,
        /// The error line may say what the gateway knows of its backends.
        reveal: bool,
    },
    Stream(Pin<Box<dyn Stream<Item = Bytes> + Send>>),
}

impl Body {
    /// A body of these bytes (none when empty), with its length known.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self { kind: Kind::Full((!bytes.is_empty()).then_some(bytes)) }
    }

    /// An instance's answer, line by line; a failure's line says what
    /// [`reply::public_message`](crate::reply::public_message) lets it.
    pub(crate) fn lines(answer: Forwarded, reveal: bool) -> Self {
        Self { kind: Kind::Lines { answer: Box::new(answer), ended: false, reveal } }
    }

    /// Any stream of chunks.
    pub(crate) fn stream(stream: impl Stream<Item = Bytes> + Send + 'static) -> Self {
        Self { kind: Kind::Stream(Box::pin(stream)) }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Full(_) => "full",
            Kind::Lines { .. } => "lines",
            Kind::Stream(_) => "stream",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

/// Ollama's mid-stream error line.
pub(crate) fn error_line(message: &str) -> Bytes {
    let mut line = serde_json::json!({ "error": message }).to_string();
    line.push('\n');
    Bytes::from(line)
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let data = match &mut self.get_mut().kind {
            Kind::Full(bytes) => bytes.take(),
            Kind::Lines { answer, ended, reveal } => {
                if *ended {
                    return Poll::Ready(None);
                }
                match std::task::ready!(answer.poll_next_unpin(cx)) {
                    Some(Ok(line)) => Some(line),
                    Some(Err(error)) => {
                        *ended = true;
                        tracing::debug!(error = %error, kind = error.kind_name(), "answer broke");
                        Some(error_line(&crate::reply::public_message(&error, *reveal)))
                    }
                    None => {
                        *ended = true;
                        None
                    }
                }
            }
            Kind::Stream(stream) => std::task::ready!(stream.poll_next_unpin(cx)),
        };
        Poll::Ready(data.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Lines { ended, .. } => *ended,
            Kind::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn full_and_streamed_bodies() {
        let body = Body::full("Ollama is running");
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(17));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "Ollama is running");
        assert!(http_body::Body::is_end_stream(&Body::full(Bytes::new())));
        let chunks = futures_util::stream::iter([Bytes::from("a\n"), Bytes::from("b\n")]);
        assert_eq!(Body::stream(chunks).collect().await.unwrap().to_bytes(), "a\nb\n");
        assert_eq!(error_line("boom \"x\""), "{\"error\":\"boom \\\"x\\\"\"}\n");
    }
}
