//! Message heads (RFC 9112 §2–5, 9.3): parsed out of a read buffer with
//! `httparse`, and written into one buffer with the body's framing.
//!
//! Header values are copied out of the read buffer, so a head kept for as
//! long as its answer streams does not pin the buffer it was read into.

use bytes::BufMut;
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HeaderName, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

use crate::error::{Error, ErrorKind};
use crate::framing::Framing;

/// The most header fields a head may have.
pub(crate) const MAX_HEADERS: usize = 100;

/// A request head as the server read it.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) parts: http::request::Parts,
    pub(crate) framing: Framing,
    /// The client wants the connection kept open after this exchange.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before the
    /// body.
    pub(crate) expect_continue: bool,
}

/// A response head as the client read it.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) parts: http::response::Parts,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
}

fn malformed(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Malformed, what)
}

fn from_httparse(error: httparse::Error) -> Error {
    match error {
        httparse::Error::TooManyHeaders => {
            Error::new(ErrorKind::TooLarge, format!("more than {MAX_HEADERS} header fields"))
        }
        other => malformed(format!("not an HTTP/1.1 head: {other}")),
    }
}

fn version(minor: Option<u8>) -> Version {
    if minor == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 }
}

fn headers(parsed: &[httparse::Header<'_>]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::with_capacity(parsed.len());
    for header in parsed {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| malformed(format!("bad header name {:?}", header.name)))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| malformed(format!("bad value for header {}", header.name)))?;
        map.append(name, value);
    }
    Ok(map)
}

/// True when a comma-separated header (all its fields) lists `token`.
fn lists(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
    })
}

/// Whether a message of `version` with these headers keeps its
/// connection open.
fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    if version == Version::HTTP_10 {
        lists(headers, &CONNECTION, "keep-alive")
    } else {
        !lists(headers, &CONNECTION, "close")
    }
}

/// `Transfer-Encoding` ends in `chunked` (`Some(true)`), names something
/// else (`Some(false)`), or is absent.
fn chunked(headers: &HeaderMap) -> Option<bool> {
    let mut last = None;
    for value in headers.get_all(TRANSFER_ENCODING) {
        let text = value.to_str().unwrap_or("");
        if let Some(coding) = text.rsplit(',').next() {
            last = Some(coding.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    last
}

/// The one `Content-Length` of a message: every field must agree.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.to_str().unwrap_or("x").split(',') {
            let item = item.trim();
            let n = (!item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()))
                .then(|| item.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| malformed(format!("Content-Length {item:?} is not a length")))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Parses a request head at the start of `buf`: `None` when more bytes
/// are needed, else the head and how many bytes it took.
pub(crate) fn parse_request(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let len = match parsed.parse(buf).map_err(from_httparse)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let method = Method::from_bytes(parsed.method.unwrap_or("").as_bytes())
        .map_err(|_| malformed("bad method"))?;
    let uri: http::Uri =
        parsed.path.unwrap_or("").parse().map_err(|_| malformed("bad request target"))?;
    let version = version(parsed.version);
    let headers = headers(parsed.headers)?;
    let mut keep_alive = keeps_alive(version, &headers);
    let framing = match (chunked(&headers), content_length(&headers)?) {
        (Some(true), length) => {
            // Both framings at once is how requests are smuggled past
            // proxies: chunked wins, and the connection is not reused.
            if length.is_some() {
                keep_alive = false;
            }
            Framing::chunked()
        }
        (Some(false), _) => return Err(malformed("a request body must end with chunked coding")),
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Empty,
    };
    let expect_continue = version == Version::HTTP_11
        && headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(Some((RequestHead { parts, framing, keep_alive, expect_continue }, len)))
}

/// Parses a response head at the start of `buf` to a request made with
/// `method`: `None` when more bytes are needed.
pub(crate) fn parse_response(
    buf: &[u8],
    method: &Method,
) -> Result<Option<(ResponseHead, usize)>, Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(buf).map_err(from_httparse)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status =
        StatusCode::from_u16(parsed.code.unwrap_or(0)).map_err(|_| malformed("bad status code"))?;
    let version = version(parsed.version);
    let headers = headers(parsed.headers)?;
    let mut keep_alive = keeps_alive(version, &headers);
    let framing = if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else {
        match (chunked(&headers), content_length(&headers)?) {
            (Some(true), _) => Framing::chunked(),
            (None, Some(n)) => Framing::Length(n),
            (Some(false), _) | (None, None) => Framing::Close,
        }
    };
    if matches!(framing, Framing::Close) {
        keep_alive = false;
    }
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    let (parts, ()) = response.into_parts();
    Ok(Some((ResponseHead { parts, framing, keep_alive }, len)))
}

/// Appends every header field of `headers` but the framing ones (which the
/// writer sets itself).
fn put_fields(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
}

fn head_len(headers: &HeaderMap) -> usize {
    64 + headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>()
}

/// How a written body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyHeader {
    /// No framing header at all (no body, or close-delimited).
    None,
    Length(u64),
    Chunked,
}

fn put_framing(out: &mut Vec<u8>, framing: BodyHeader) {
    match framing {
        BodyHeader::None => {}
        BodyHeader::Length(n) => {
            out.put_slice(b"content-length: ");
            out.put_slice(n.to_string().as_bytes());
            out.put_slice(b"\r\n");
        }
        BodyHeader::Chunked => out.put_slice(b"transfer-encoding: chunked\r\n"),
    }
}

/// A request head: the request line, the headers, the framing.
pub(crate) fn write_request(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: BodyHeader,
    extra: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(head_len(headers) + target.len() + extra);
    out.put_slice(method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    put_fields(&mut out, headers);
    put_framing(&mut out, framing);
    out.put_slice(b"\r\n");
    out
}

/// A response head: the status line, the headers, `Date` when not given,
/// `Connection: close` when the connection ends after it, the framing.
pub(crate) fn write_response(
    status: StatusCode,
    headers: &HeaderMap,
    framing: BodyHeader,
    close: bool,
    extra: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(head_len(headers) + 64 + extra);
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.put_slice(b"\r\n");
    put_fields(&mut out, headers);
    if !headers.contains_key(http::header::DATE) {
        out.put_slice(b"date: ");
        out.put_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        out.put_slice(b"\r\n");
    }
    if close && !lists(headers, &CONNECTION, "close") {
        out.put_slice(b"connection: close\r\n");
    }
    put_framing(&mut out, framing);
    out.put_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn request(wire: &str) -> Result<Option<(RequestHead, usize)>, Error> {
        parse_request(wire.as_bytes())
    }

    #[test]
    fn a_request_head_and_its_framing() {
        let wire =
            "POST /api/chat?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"model\":1}";
        let (head, len) = request(wire).unwrap().unwrap();
        assert_eq!(len, wire.len() - 11);
        assert_eq!(head.parts.method, Method::POST);
        assert_eq!(head.parts.uri.path(), "/api/chat");
        assert_eq!(head.parts.uri.query(), Some("x=1"));
        assert_eq!(head.parts.headers["host"], "a");
        assert!(matches!(head.framing, Framing::Length(12)));
        assert!(head.keep_alive && !head.expect_continue);
        // Partial heads wait for more.
        assert!(request("GET / HTTP/1.1\r\nHost:").unwrap().is_none());
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        let keep = |wire: &str| request(wire).unwrap().unwrap().0.keep_alive;
        assert!(!keep("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        let wire =
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        let (head, _) = request(wire).unwrap().unwrap();
        assert!(head.expect_continue && matches!(head.framing, Framing::Chunked(_)));
    }

    #[test]
    fn bad_request_heads_are_refused_with_the_reason() {
        for (wire, fault) in [
            ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "not a length"),
            ("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", "not a length"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "chunked coding"),
            ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "not an HTTP/1.1 head"),
            ("\x01GET / HTTP/1.1\r\n\r\n", "not an HTTP/1.1 head"),
        ] {
            let error = request(wire).unwrap_err();
            assert!(error.to_string().contains(fault), "{wire:?}: {error}");
        }
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: b\r\n".repeat(MAX_HEADERS + 1));
        assert!(request(&many).unwrap_err().is_too_large());
        // Smuggling shape: chunked wins and the connection is not reused.
        let wire = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (head, _) = request(wire).unwrap().unwrap();
        assert!(matches!(head.framing, Framing::Chunked(_)) && !head.keep_alive);
    }

    #[test]
    fn response_framing_follows_status_method_and_headers() {
        let framing = |wire: &str, method: Method| {
            let (head, _) = parse_response(wire.as_bytes(), &method).unwrap().unwrap();
            (head.framing, head.keep_alive)
        };
        assert!(matches!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", Method::HEAD),
            (Framing::Empty, true)
        ));
        assert!(matches!(
            framing("HTTP/1.1 204 No Content\r\n\r\n", Method::GET),
            (Framing::Empty, true)
        ));
        assert!(matches!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::POST),
            (Framing::Chunked(_), true)
        ));
        assert!(matches!(framing("HTTP/1.1 200 OK\r\n\r\n", Method::GET), (Framing::Close, false)));
        assert!(matches!(
            framing("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", Method::GET),
            (Framing::Length(2), false)
        ));
    }

    #[test]
    fn written_heads_parse_back() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-ndjson"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let wire = write_response(StatusCode::OK, &headers, BodyHeader::Chunked, true, 0);
        let (head, len) = parse_response(&wire, &Method::POST).unwrap().unwrap();
        assert_eq!(len, wire.len());
        assert_eq!(head.parts.headers["content-type"], "application/x-ndjson");
        assert!(head.parts.headers.contains_key("date"));
        // The writer's own framing replaces the caller's.
        assert!(!head.parts.headers.contains_key(CONTENT_LENGTH));
        assert!(matches!(head.framing, Framing::Chunked(_)) && !head.keep_alive);
        let wire = write_request(&Method::POST, "/api/chat", &headers, BodyHeader::Length(2), 2);
        let (head, _) = parse_request(&wire).unwrap().unwrap();
        assert!(matches!(head.framing, Framing::Length(2)));
    }

    proptest! {
        #[test]
        fn request_parsing_never_panics(wire in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_request(&wire);
            let _ = parse_response(&wire, &Method::GET);
        }

        #[test]
        fn any_valid_header_set_survives_a_round_trip(
            fields in proptest::collection::btree_map("[a-z][a-z0-9-]{0,15}", "[ -~&&[^ ]]([ -~]{0,30}[!-~])?", 0..12),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in &fields {
                if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
                    && n != CONTENT_LENGTH && n != TRANSFER_ENCODING && n != CONNECTION && n != EXPECT
                {
                    headers.insert(n, v);
                }
            }
            let wire = write_request(&Method::GET, "/", &headers, BodyHeader::None, 0);
            let (head, len) = parse_request(&wire).unwrap().unwrap();
            prop_assert_eq!(len, wire.len());
            prop_assert_eq!(head.parts.headers, headers);
        }
    }
}
