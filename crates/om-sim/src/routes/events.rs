//! The native chunk stream of one generation and the two ways to answer
//! with it: NDJSON lines, or one merged object.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use http::StatusCode;
use serde::Serialize;

use crate::error::{ApiError, Dropped};
use crate::response::{self, Reply};

/// One item of a generation as the wire sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event<T> {
    /// A native chunk (`done: false` pieces, then the `done: true` one).
    Chunk(T),
    /// A line that is not JSON (fault).
    Malformed,
    /// An error after the stream started; the stream ends after it.
    Error(String),
    /// Drop the connection (fault); the stream ends.
    Disconnect,
}

/// A boxed stream of events.
pub(crate) type Events<T> = Pin<Box<dyn Stream<Item = Event<T>> + Send>>;

/// What an inference request produced.
pub(crate) enum Run<T> {
    /// One object: the load or unload shortcut.
    Single(T),
    /// A generation.
    Stream(Events<T>),
}

/// The line the `malformed_line_after_tokens` fault writes: a cut-off object.
const MALFORMED: &[u8] = b"{\"model\":\"simulated\",\"response\":\"cut off\n";

/// Answers with an NDJSON stream. The first event is awaited before the
/// response head is sent, so a cold model delays the first byte and an error
/// before any line still gets its own status.
pub(crate) async fn ndjson<T>(mut events: Events<T>) -> Reply
where
    T: Serialize + Send + 'static,
{
    let first = match events.next().await {
        Some(Event::Error(message)) => return Ok(response::error(&ApiError::internal(message))),
        Some(Event::Disconnect) => return Err(Dropped),
        Some(first) => first,
        None => return Ok(response::error(&ApiError::internal("generation produced nothing"))),
    };
    let lines = stream::once(async move { first }).chain(events).map(|event| match event {
        Event::Chunk(chunk) => Ok(response::ndjson_line(&chunk)),
        Event::Malformed => Ok(Bytes::from_static(MALFORMED)),
        Event::Error(message) => Ok(response::ndjson_line(&om_core::wire::ErrorBody::new(message))),
        Event::Disconnect => Err(Dropped),
    });
    Ok(response::stream(response::NDJSON, lines))
}

/// A chunk type whose stream can be folded into one non-streaming object.
pub(crate) trait Merge: Sized {
    /// Folds a later chunk into this one.
    fn merge(&mut self, later: Self);
}

/// What a whole generation folded into one object.
pub(crate) enum Folded<T> {
    /// The merged object.
    Object(T),
    /// The generation failed; answer with this error.
    Failed(ApiError),
    /// A malformed body was asked for (fault).
    Malformed,
    /// Drop the connection (fault).
    Disconnect,
}

/// Runs a generation to the end and merges it.
pub(crate) async fn fold<T: Merge>(mut events: Events<T>) -> Folded<T> {
    let mut merged: Option<T> = None;
    let mut malformed = false;
    while let Some(event) = events.next().await {
        match event {
            Event::Chunk(chunk) => match merged.as_mut() {
                Some(acc) => acc.merge(chunk),
                None => merged = Some(chunk),
            },
            Event::Malformed => malformed = true,
            Event::Error(message) => return Folded::Failed(ApiError::internal(message)),
            Event::Disconnect => return Folded::Disconnect,
        }
    }
    if malformed {
        return Folded::Malformed;
    }
    merged.map_or_else(
        || Folded::Failed(ApiError::internal("generation produced nothing")),
        Folded::Object,
    )
}

/// Answers with one merged object (`stream: false`).
pub(crate) async fn whole<T>(events: Events<T>) -> Reply
where
    T: Merge + Serialize,
{
    match fold(events).await {
        Folded::Object(object) => Ok(response::json(StatusCode::OK, &object)),
        Folded::Failed(err) => Ok(response::error(&err)),
        Folded::Malformed => Ok(response::stream(
            response::JSON,
            stream::once(async { Ok(Bytes::from_static(MALFORMED)) }),
        )),
        Folded::Disconnect => Err(Dropped),
    }
}

/// Concatenates optional text pieces (`thinking`).
pub(crate) fn concat(acc: &mut Option<String>, later: Option<String>) {
    match (acc.as_mut(), later) {
        (Some(a), Some(b)) => a.push_str(&b),
        (None, Some(b)) => *acc = Some(b),
        (_, None) => {}
    }
}
