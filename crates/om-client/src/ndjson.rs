//! Sans-IO NDJSON decoding: bytes in, complete lines out, then lines into
//! typed frames.
//!
//! Ollama streams one compact JSON object per line (`OLLAMA_API.md` §1). The
//! network hands us arbitrary pieces of that byte stream: a line may be split
//! across many reads, one read may hold many lines, and the last line of a
//! non-streaming body has no trailing newline. [`LineDecoder`] turns any such
//! split back into the same sequence of lines, and [`FrameDecoder`] turns each
//! line into a response value or an [`om_core::Error`].
//!
//! Neither type does I/O or knows about time, so both can be property-tested
//! and benchmarked without a network; the client's streaming calls only loop
//! on `frame().await` and feed them.
//!
//! ```
//! use bytes::Bytes;
//! use om_client::ndjson::FrameDecoder;
//! use om_core::wire::ProgressResponse;
//!
//! let mut frames = FrameDecoder::<ProgressResponse>::new();
//! frames.push(Bytes::from_static(b"{\"status\":\"pulling manifest\"}\n{\"sta"));
//! assert_eq!(frames.next_frame()?.map(|p| p.status), Some("pulling manifest".to_owned()));
//! assert!(frames.next_frame()?.is_none()); // the second line is not complete yet
//! frames.push(Bytes::from_static(b"tus\":\"success\"}"));
//! assert!(frames.next_frame()?.is_none()); // still no newline...
//! assert_eq!(frames.finish()?.map(|p| p.status), Some("success".to_owned())); // ...but EOF ends it
//! # Ok::<(), om_core::Error>(())
//! ```

use std::marker::PhantomData;

use bytes::{Buf, Bytes, BytesMut};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use om_core::{Error, ErrorKind, Result};

/// The longest line [`LineDecoder::default`] accepts: om-config's
/// `limits.max_line_bytes` default (16 MiB, twice the limit of Ollama's own
/// Go client), so anything a real server sends fits while a peer that never
/// sends a newline cannot exhaust memory.
pub fn default_max_line_len() -> usize {
    usize::try_from(om_config::Limits::default().max_line_bytes).unwrap_or(usize::MAX)
}

/// How much of an offending line an error message quotes.
const QUOTE_LEN: usize = 120;

/// Splits a byte stream into lines, whatever the split of its pieces.
///
/// Lines end at `\n`; a `\r` before it is removed, and lines that are empty
/// or only whitespace are skipped (Ollama never sends them, but proxies and
/// hand-written servers do). At end of input, [`LineDecoder::finish`] returns
/// a last line that had no trailing newline.
///
/// Complete lines inside one pushed piece are handed out as zero-copy slices
/// of it; only a line that spans pieces is copied, once.
///
/// # Invariant
///
/// No line longer than the limit given to [`LineDecoder::new`] is ever
/// buffered: reaching it is a [`ErrorKind::Protocol`] error, after which the
/// decoder holds nothing and should be dropped with the stream it served.
#[derive(Debug)]
pub struct LineDecoder {
    /// The start of a line whose end has not arrived yet.
    partial: BytesMut,
    /// The unscanned rest of the last pushed piece.
    pending: Bytes,
    max_line_len: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(default_max_line_len())
    }
}

impl LineDecoder {
    /// A decoder that refuses lines longer than `max_line_len` bytes
    /// (not counting the line ending).
    pub fn new(max_line_len: usize) -> Self {
        Self { partial: BytesMut::new(), pending: Bytes::new(), max_line_len }
    }

    /// Adds the next piece of the byte stream.
    ///
    /// Call [`LineDecoder::next_line`] until it returns `Ok(None)` before
    /// pushing again; pushing earlier is correct but copies the unread rest.
    pub fn push(&mut self, chunk: Bytes) {
        if self.pending.is_empty() {
            self.pending = chunk;
        } else {
            let mut joined = BytesMut::with_capacity(self.pending.len() + chunk.len());
            joined.extend_from_slice(&self.pending);
            joined.extend_from_slice(&chunk);
            self.pending = joined.freeze();
        }
    }

    /// The next complete, non-blank line without its line ending, or
    /// `Ok(None)` when more input is needed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Protocol`] when a line exceeds the length limit.
    pub fn next_line(&mut self) -> Result<Option<Bytes>> {
        while !self.pending.is_empty() {
            let Some(newline) = self.pending.iter().position(|&b| b == b'\n') else {
                // No line end in what we have: keep it for the next piece.
                self.check_len(self.partial.len() + self.pending.len())?;
                self.partial.extend_from_slice(&self.pending);
                self.pending.clear();
                return Ok(None);
            };
            let line = if self.partial.is_empty() {
                let line = self.pending.slice(..newline);
                self.pending.advance(newline + 1);
                line
            } else {
                self.partial.extend_from_slice(&self.pending[..newline]);
                self.pending.advance(newline + 1);
                self.partial.split().freeze()
            };
            if let Some(line) = self.accept(line)? {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    /// Ends the input: the last line when it had no trailing newline.
    ///
    /// Call it once, after [`LineDecoder::next_line`] has returned `Ok(None)`
    /// for the last piece; any complete lines still pending are returned
    /// first, so calling it early loses nothing either.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Protocol`] when the last line exceeds the length limit.
    pub fn finish(&mut self) -> Result<Option<Bytes>> {
        if let Some(line) = self.next_line()? {
            return Ok(Some(line));
        }
        let rest = self.partial.split().freeze();
        self.accept(rest)
    }

    /// True when no partial line is buffered.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty() && self.pending.is_empty()
    }

    /// Strips `\r`, skips blank lines and enforces the length limit.
    fn accept(&mut self, mut line: Bytes) -> Result<Option<Bytes>> {
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        self.check_len(line.len())?;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(line))
    }

    fn check_len(&mut self, len: usize) -> Result<()> {
        if len <= self.max_line_len {
            return Ok(());
        }
        // Drop what we hold: the stream is unusable and must not grow further.
        self.partial = BytesMut::new();
        self.pending = Bytes::new();
        Err(Error::new(
            ErrorKind::Protocol,
            format!("NDJSON line longer than {} bytes", self.max_line_len),
        ))
    }
}

/// Decodes an NDJSON byte stream into values of `T`, Ollama's way.
///
/// Each line is first checked for an `{"error": …}` object, as Ollama's Go
/// client does: such a line is an [`ErrorKind::Stream`] error carrying
/// Ollama's message verbatim, marked partial when a frame was already
/// returned. Any other line is decoded as `T`; a line that is not JSON, or not
/// the shape of `T`, is an [`ErrorKind::Protocol`] error that quotes the line.
#[derive(Debug)]
pub struct FrameDecoder<T> {
    lines: LineDecoder,
    yielded: bool,
    _frame: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Default for FrameDecoder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned> FrameDecoder<T> {
    /// A decoder with the default line limit ([`default_max_line_len`]).
    pub fn new() -> Self {
        Self::with_lines(LineDecoder::default())
    }

    /// A decoder over a configured [`LineDecoder`].
    pub fn with_lines(lines: LineDecoder) -> Self {
        Self { lines, yielded: false, _frame: PhantomData }
    }

    /// Adds the next piece of the byte stream.
    pub fn push(&mut self, chunk: Bytes) {
        self.lines.push(chunk);
    }

    /// The next frame, or `Ok(None)` when more input is needed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Stream`] for an `{"error": …}` line and
    /// [`ErrorKind::Protocol`] for a line that is too long, not JSON or not a
    /// `T`. An error ends the stream.
    pub fn next_frame(&mut self) -> Result<Option<T>> {
        match self.lines.next_line()? {
            Some(line) => self.decode(&line).map(Some),
            None => Ok(None),
        }
    }

    /// Ends the input: the frame on a last line without a trailing newline.
    ///
    /// # Errors
    ///
    /// As [`FrameDecoder::next_frame`].
    pub fn finish(&mut self) -> Result<Option<T>> {
        match self.lines.finish()? {
            Some(line) => self.decode(&line).map(Some),
            None => Ok(None),
        }
    }

    /// True once a frame has been returned: an error after that point is
    /// partial (output was already produced).
    pub fn has_yielded(&self) -> bool {
        self.yielded
    }

    fn decode(&mut self, line: &[u8]) -> Result<T> {
        let frame = decode_frame(line, self.yielded)?;
        self.yielded = true;
        Ok(frame)
    }
}

/// Decodes one NDJSON line (or one whole non-streaming body) as `T`.
///
/// `partial` says whether output was already produced before this line; it is
/// copied onto a [`ErrorKind::Stream`] error.
///
/// # Errors
///
/// [`ErrorKind::Stream`] when the line is an `{"error": …}` object (the
/// message is Ollama's, verbatim); [`ErrorKind::Protocol`] when it is not
/// JSON or not a `T`.
pub fn decode_frame<T: DeserializeOwned>(line: &[u8], partial: bool) -> Result<T> {
    // Probing every line for an error object would parse it twice; a line
    // without the bytes `"error"` cannot have an `error` key, so only the
    // rare line that has them pays for the probe.
    if contains(line, b"\"error\"")
        && let Ok(probe) = serde_json::from_slice::<ErrorProbe>(line)
        && let Some(message) = probe.message()
    {
        return Err(Error::new(ErrorKind::Stream, message).with_partial(partial));
    }
    serde_json::from_slice(line).map_err(|e| {
        Error::new(ErrorKind::Protocol, format!("invalid NDJSON line {}: {e}", quote(line)))
            .with_partial(partial)
            .with_source(e)
    })
}

/// The error envelope of a line: `{"error": "…"}` (other keys ignored).
#[derive(Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    error: Option<Value>,
}

impl ErrorProbe {
    /// Ollama's message: the string itself, or the JSON text of a non-string
    /// value; `None` when there is no (or an empty) error.
    fn message(self) -> Option<String> {
        match self.error? {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The start of `line` as quoted text, cut at a character boundary.
pub(crate) fn quote(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    if text.chars().count() <= QUOTE_LEN {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(QUOTE_LEN).collect();
    format!("{cut:?}…")
}

#[cfg(test)]
mod tests {
    use om_core::wire::ChatResponse;

    use super::*;

    fn lines_of(pieces: &[&[u8]]) -> Vec<Bytes> {
        let mut decoder = LineDecoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(Bytes::copy_from_slice(piece));
            while let Some(line) = decoder.next_line().unwrap() {
                out.push(line);
            }
        }
        if let Some(line) = decoder.finish().unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn splits_lines_across_and_within_pieces() {
        let got = lines_of(&[b"a\nb", b"c\n\nd\r", b"\n  \r\ne"]);
        assert_eq!(got, vec!["a", "bc", "d", "e"]);
    }

    #[test]
    fn push_without_draining_keeps_everything() {
        let mut decoder = LineDecoder::default();
        decoder.push(Bytes::from_static(b"x\ny"));
        decoder.push(Bytes::from_static(b"z\n"));
        assert_eq!(decoder.next_line().unwrap().unwrap(), "x");
        assert_eq!(decoder.next_line().unwrap().unwrap(), "yz");
        assert!(decoder.next_line().unwrap().is_none());
        assert!(decoder.finish().unwrap().is_none());
        assert!(decoder.is_empty());
    }

    #[test]
    fn long_line_is_a_protocol_error() {
        let mut decoder = LineDecoder::new(4);
        decoder.push(Bytes::from_static(b"abcd\nabc"));
        assert_eq!(decoder.next_line().unwrap().unwrap(), "abcd");
        assert!(decoder.next_line().unwrap().is_none());
        decoder.push(Bytes::from_static(b"de"));
        let err = decoder.next_line().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(decoder.is_empty());
        // The `\r` of a CRLF ending does not count against the limit.
        let mut decoder = LineDecoder::new(4);
        decoder.push(Bytes::from_static(b"abcd\r\n"));
        assert_eq!(decoder.next_line().unwrap().unwrap(), "abcd");
    }

    #[test]
    fn error_line_is_a_stream_error_with_partial_flag() {
        let mut frames = FrameDecoder::<ChatResponse>::new();
        frames.push(Bytes::from_static(
            b"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"error\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: boom\"}\n",
        ));
        assert_eq!(frames.next_frame().unwrap().unwrap().message.content, "error");
        let err = frames.next_frame().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Stream);
        assert_eq!(err.message(), "an error was encountered while running the model: boom");
        assert!(err.is_partial());
        let first: Result<ChatResponse> = decode_frame(br#"{"error":"x"}"#, false);
        assert!(!first.unwrap_err().is_partial());
    }

    #[test]
    fn garbage_is_a_protocol_error_quoting_the_line() {
        let err = decode_frame::<ChatResponse>(b"<html>oops</html>", false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.message().contains("\"<html>oops</html>\""), "{}", err.message());
        let long = vec![b'x'; 1000];
        let err = decode_frame::<ChatResponse>(&long, false).unwrap_err();
        assert!(err.message().len() < 400, "{}", err.message());
        assert!(err.message().contains('…'));
    }

    #[test]
    fn empty_or_null_error_is_not_an_error() {
        let ok: ChatResponse =
            decode_frame(br#"{"model":"m","error":"","done":true}"#, false).unwrap();
        assert!(ok.done);
        let ok: ChatResponse = decode_frame(br#"{"model":"m","error":null}"#, false).unwrap();
        assert_eq!(ok.model, "m");
        let err = decode_frame::<ChatResponse>(br#"{"error":{"message":"x"}}"#, false).unwrap_err();
        assert_eq!(err.message(), r#"{"message":"x"}"#);
    }
}
