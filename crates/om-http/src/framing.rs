//! Message body framing (RFC 9112 §6–7), sans-IO: a body delimited by its
//! length, by chunks, or by the connection closing, decoded out of a read
//! buffer one piece at a time, and the chunk header written before each
//! piece of a chunked body.
//!
//! Data is split off the buffer, never copied: a piece is a slice of the
//! bytes the socket delivered.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, ErrorKind};

/// The most bytes of chunk-size line (with extensions) or of trailer
/// section accepted; both are tiny in practice.
const MAX_CONTROL: usize = 4096;

/// How a message body ends.
#[derive(Debug)]
pub(crate) enum Framing {
    /// No body at all.
    Empty,
    /// `Content-Length`: this many bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// Until the peer closes (a response without either header).
    Close,
}

/// One step of decoding.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The next piece of the body.
    Data(Bytes),
    /// The body is complete; what is left in the buffer is not part of it.
    End,
    /// The buffer holds no more of the body: read more.
    More,
}

impl Framing {
    /// A chunked body.
    pub(crate) fn chunked() -> Self {
        Self::Chunked(Chunked { state: State::Size { value: 0, digits: 0 }, control: 0 })
    }

    /// Takes the next piece of the body out of `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        match self {
            Self::Empty | Self::Length(0) => Ok(Step::End),
            Self::Length(left) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let take = (*left).min(buf.len() as u64) as usize;
                *left -= take as u64;
                Ok(Step::Data(buf.split_to(take).freeze()))
            }
            Self::Chunked(chunked) => chunked.decode(buf),
            Self::Close => {
                if buf.is_empty() {
                    Ok(Step::More)
                } else {
                    Ok(Step::Data(buf.split().freeze()))
                }
            }
        }
    }

    /// The peer closed the connection after everything in the buffer was
    /// decoded: the end of a close-delimited body, an error for any other
    /// body not yet complete.
    pub(crate) fn at_eof(&self) -> Result<Step, Error> {
        match self {
            Self::Empty
            | Self::Length(0)
            | Self::Close
            | Self::Chunked(Chunked { state: State::Done, .. }) => Ok(Step::End),
            _ => Err(Error::new(ErrorKind::Closed, "the connection closed before the body ended")),
        }
    }

    /// True once the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        matches!(
            self,
            Self::Empty | Self::Length(0) | Self::Chunked(Chunked { state: State::Done, .. })
        )
    }

    /// The exact length, when the framing says it.
    pub(crate) fn exact(&self) -> Option<u64> {
        match self {
            Self::Empty => Some(0),
            Self::Length(n) => Some(*n),
            _ => None,
        }
    }
}

/// The chunked decoder's place in the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { value: u64, digits: u32 },
    Extension { value: u64 },
    SizeLf { value: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

/// A chunked body being decoded.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    /// Bytes of size line or trailer seen since the last data.
    control: usize,
}

impl Chunked {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        loop {
            match self.state {
                State::Done => return Ok(Step::End),
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = left.min(buf.len() as u64) as usize;
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataCr } else { State::Data(left) };
                    return Ok(Step::Data(buf.split_to(take).freeze()));
                }
                _ => {}
            }
            let Some(&byte) = buf.first() else { return Ok(Step::More) };
            buf.advance(1);
            self.control += 1;
            if self.control > MAX_CONTROL {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("a chunk-size line or trailer is longer than {MAX_CONTROL} bytes"),
                ));
            }
            self.state = self.next(byte)?;
        }
    }

    fn next(&mut self, byte: u8) -> Result<State, Error> {
        let malformed = |what: &str| {
            Error::new(ErrorKind::Malformed, format!("chunked body: {what} (byte {byte:#04x})"))
        };
        Ok(match (self.state, byte) {
            (State::Size { value, digits }, b) if b.is_ascii_hexdigit() => {
                if digits == 15 {
                    return Err(malformed("a chunk size of more than 15 hex digits"));
                }
                let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                State::Size { value: value * 16 + digit, digits: digits + 1 }
            }
            (State::Size { digits: 0, .. }, _) => return Err(malformed("no chunk size")),
            (State::Size { value, .. } | State::Extension { value }, b'\r') => {
                State::SizeLf { value }
            }
            (State::Size { value, .. }, b';' | b' ' | b'\t') => State::Extension { value },
            (State::Extension { value }, b) if b == b'\t' || !b.is_ascii_control() => {
                State::Extension { value }
            }
            (State::SizeLf { value: 0 } | State::TrailerLf, b'\n') => State::TrailerStart,
            (State::SizeLf { value }, b'\n') => {
                self.control = 0;
                State::Data(value)
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.control = 0;
                State::Size { value: 0, digits: 0 }
            }
            (State::TrailerStart, b'\r') => State::EndLf,
            (State::TrailerStart | State::TrailerLine, b) if b != b'\r' && b != b'\n' => {
                State::TrailerLine
            }
            (State::TrailerLine, b'\r') => State::TrailerLf,
            (State::EndLf, b'\n') => State::Done,
            (State::Size { .. } | State::Extension { .. }, _) => {
                return Err(malformed("an unexpected byte in a chunk-size line"));
            }
            _ => return Err(malformed("a missing CRLF")),
        })
    }
}

/// The header of a chunk of `len` bytes: its size in hex and CRLF.
pub(crate) fn chunk_header(len: usize) -> ChunkHeader {
    let mut bytes = [0_u8; 18];
    let mut digits = 0;
    let mut rest = len;
    loop {
        digits += 1;
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    for (i, byte) in bytes.iter_mut().take(digits).enumerate() {
        let nibble = (len >> (4 * (digits - 1 - i))) & 0xf;
        *byte = b"0123456789abcdef"[nibble];
    }
    bytes[digits] = b'\r';
    bytes[digits + 1] = b'\n';
    ChunkHeader { bytes, len: digits + 2 }
}

/// A chunk header, on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkHeader {
    bytes: [u8; 18],
    len: usize,
}

impl AsRef<[u8]> for ChunkHeader {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What ends a chunked body: the last chunk and an empty trailer.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Everything `framing` yields for `wire` fed in pieces of `step`
    /// bytes, and what follows the body's end (buffered or not yet fed).
    fn decode_all(
        mut framing: Framing,
        wire: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            match framing.decode(&mut buf)? {
                Step::Data(data) => out.extend_from_slice(&data),
                Step::End => return Ok((out, [&buf[..], &wire[fed..]].concat())),
                Step::More if fed < wire.len() => {
                    let end = (fed + step).min(wire.len());
                    buf.extend_from_slice(&wire[fed..end]);
                    fed = end;
                }
                Step::More => {
                    framing.at_eof()?;
                    return Ok((out, Vec::new()));
                }
            }
        }
    }

    fn encode(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut wire = Vec::new();
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            wire.extend_from_slice(chunk_header(chunk.len()).as_ref());
            wire.extend_from_slice(chunk);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(LAST_CHUNK);
        wire
    }

    #[test]
    fn chunk_headers_are_hex() {
        assert_eq!(chunk_header(0).as_ref(), b"0\r\n");
        assert_eq!(chunk_header(255).as_ref(), b"ff\r\n");
        assert_eq!(chunk_header(4096).as_ref(), b"1000\r\n");
        assert_eq!(chunk_header(usize::MAX).as_ref(), b"ffffffffffffffff\r\n");
    }

    #[test]
    fn extensions_and_trailers_are_skipped() {
        let wire =
            b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nExpires: never\r\nX: y\r\n\r\nNEXT";
        let (body, rest) = decode_all(Framing::chunked(), wire, 3).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn bad_chunked_bodies_are_errors_naming_the_fault() {
        for (wire, fault) in [
            (&b"x\r\n"[..], "no chunk size"),
            (b"5\r\nhelloXX", "missing CRLF"),
            (b"10000000000000000\r\n", "15 hex digits"),
            (b"5\nhello\r\n", "unexpected byte"),
        ] {
            let error = decode_all(Framing::chunked(), wire, 64).unwrap_err();
            assert!(error.is_malformed(), "{error}");
            assert!(error.to_string().contains(fault), "{error}");
        }
        let long = [b"1;".as_slice(), &[b'a'; MAX_CONTROL]].concat();
        assert!(decode_all(Framing::chunked(), &long, 512).unwrap_err().is_too_large());
        // Cut short: the connection closed mid-body.
        assert!(decode_all(Framing::chunked(), b"5\r\nhel", 64).unwrap_err().is_closed());
        assert!(decode_all(Framing::Length(10), b"short", 64).unwrap_err().is_closed());
    }

    #[test]
    fn length_and_close_delimited_bodies() {
        let (body, rest) = decode_all(Framing::Length(5), b"helloGET /", 4).unwrap();
        assert_eq!((body.as_slice(), rest.as_slice()), (&b"hello"[..], &b"GET /"[..]));
        let (body, _) = decode_all(Framing::Close, b"until the end", 5).unwrap();
        assert_eq!(body, b"until the end");
        assert_eq!(decode_all(Framing::Empty, b"next", 5).unwrap().1, b"next");
    }

    proptest! {
        #[test]
        fn chunked_round_trips_however_the_bytes_arrive(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            step in 1_usize..64,
            after in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut wire = encode(&chunks);
            wire.extend_from_slice(&after);
            let (body, rest) = decode_all(Framing::chunked(), &wire, step).unwrap();
            prop_assert_eq!(body, chunks.concat());
            // What follows the body is left for the next message.
            prop_assert_eq!(rest, after);
        }

        #[test]
        fn the_chunked_decoder_never_panics(wire in proptest::collection::vec(any::<u8>(), 0..256), step in 1_usize..32) {
            let _ = decode_all(Framing::chunked(), &wire, step);
        }
    }
}
