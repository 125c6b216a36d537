//! Property tests of the NDJSON decoder: any split of a realistic chat
//! stream decodes to the same frames.

use bytes::Bytes;
use om_client::ndjson::{FrameDecoder, LineDecoder};
use om_core::wire::ChatResponse;
use proptest::prelude::*;
use serde_json::json;

/// A realistic chat stream's lines: thinking, content with escapes and
/// non-ASCII text, a tool call, and the final chunk with metrics.
fn chat_lines(contents: &[String]) -> Vec<String> {
    let mut lines = vec![
        json!({"model": "qwen3:8b", "created_at": "2025-10-26T17:21:21.1Z",
            "message": {"role": "assistant", "content": "", "thinking": "Let me think…"}, "done": false})
        .to_string(),
    ];
    for (i, content) in contents.iter().enumerate() {
        lines.push(
            json!({"model": "qwen3:8b", "created_at": format!("2025-10-26T17:21:{:02}.5Z", i % 60),
                "message": {"role": "assistant", "content": content}, "done": false})
            .to_string(),
        );
    }
    lines.push(
        json!({"model": "qwen3:8b", "created_at": "2025-10-26T17:21:59Z",
            "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_ab12cd34",
                "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tōkyō"}}}]},
            "done": false})
        .to_string(),
    );
    lines.push(
        json!({"model": "qwen3:8b", "created_at": "2025-10-26T17:22:00Z",
            "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
            "total_duration": 4_883_583_458_u64, "load_duration": 1_334_875, "prompt_eval_count": 26,
            "prompt_eval_duration": 342_546_000, "eval_count": 282, "eval_duration": 4_535_599_000_u64})
        .to_string(),
    );
    lines
}

/// How the lines are joined into one byte stream.
#[derive(Debug, Clone, Copy)]
struct Framing {
    crlf: bool,
    blank_lines: bool,
    trailing_newline: bool,
}

fn join(lines: &[String], framing: Framing) -> Vec<u8> {
    let end = if framing.crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if framing.blank_lines && i % 3 == 0 {
            out.push_str(end);
            out.push_str(" \t");
            out.push_str(end);
        }
        out.push_str(line);
        if i + 1 < lines.len() || framing.trailing_newline {
            out.push_str(end);
        }
    }
    out.into_bytes()
}

/// Cuts `bytes` at the given points (taken modulo the length, deduplicated).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]])).collect()
}

fn decode_all(pieces: &[Bytes]) -> Vec<ChatResponse> {
    let mut frames = FrameDecoder::<ChatResponse>::new();
    let mut out = Vec::new();
    for piece in pieces {
        frames.push(piece.clone());
        while let Some(frame) = frames.next_frame().expect("valid stream") {
            out.push(frame);
        }
    }
    out.extend(frames.finish().expect("valid stream"));
    out
}

fn expected(lines: &[String]) -> Vec<ChatResponse> {
    lines.iter().map(|l| serde_json::from_str(l).expect("valid line")).collect()
}

fn content() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z ]{0,12}",
        Just("\n".to_owned()),
        Just("\"quoted\"\\".to_owned()),
        Just("error".to_owned()),
        "\\PC{0,6}",
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(crlf, blank_lines, trailing_newline)| Framing { crlf, blank_lines, trailing_newline },
    )
}

proptest! {
    #[test]
    fn any_split_yields_the_same_frames(
        contents in prop::collection::vec(content(), 1..40),
        cuts in prop::collection::vec(any::<usize>(), 0..64),
        framing in framing(),
    ) {
        let lines = chat_lines(&contents);
        let bytes = join(&lines, framing);
        let want = expected(&lines);
        prop_assert_eq!(&decode_all(&split(&bytes, &cuts)), &want);
        prop_assert_eq!(&decode_all(&[Bytes::from(bytes.clone())]), &want);
    }

    #[test]
    fn one_byte_pieces_yield_the_same_frames(
        contents in prop::collection::vec(content(), 1..8),
        framing in framing(),
    ) {
        let lines = chat_lines(&contents);
        let bytes = join(&lines, framing);
        let pieces: Vec<Bytes> = bytes.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
        prop_assert_eq!(decode_all(&pieces), expected(&lines));
    }

    #[test]
    fn lines_survive_any_split(
        lines in prop::collection::vec("[^\r\n]{0,30}", 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..32),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().flat_map(|l| [l.as_str(), end]).collect();
        let mut decoder = LineDecoder::default();
        let mut got = Vec::new();
        for piece in split(text.as_bytes(), &cuts) {
            decoder.push(piece);
            while let Some(line) = decoder.next_line().unwrap() {
                got.push(String::from_utf8(line.to_vec()).unwrap());
            }
        }
        got.extend(decoder.finish().unwrap().map(|l| String::from_utf8(l.to_vec()).unwrap()));
        let want: Vec<String> =
            lines.into_iter().filter(|l| !l.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn the_line_limit_holds_for_any_split(
        len in 1_usize..200,
        limit in 1_usize..100,
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let line = vec![b'x'; len];
        let mut bytes = line.clone();
        bytes.push(b'\n');
        let mut decoder = LineDecoder::new(limit);
        let mut result = Ok(Vec::new());
        for piece in split(&bytes, &cuts) {
            decoder.push(piece);
            match decoder.next_line() {
                Ok(Some(l)) => result = Ok(l.to_vec()),
                Ok(None) => {}
                Err(e) => { result = Err(e); break; }
            }
        }
        if len <= limit {
            prop_assert_eq!(result.unwrap(), line);
        } else {
            prop_assert_eq!(result.unwrap_err().kind(), om_core::ErrorKind::Protocol);
        }
    }
}

/// Any bytes, cut anywhere: lines within the limit, the limit refused as a
/// protocol error, never a panic. `cargo xtask fuzz` runs it longer.
fn pieces() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let byte =
        prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'{'), Just(b'"'), any::<u8>()];
    prop::collection::vec(prop::collection::vec(byte, 0..48), 0..12)
}

proptest! {
    #[test]
    fn fuzz_line_decoder(pieces in pieces(), limit in 1_usize..64) {
        let mut lines = LineDecoder::new(limit);
        let mut frames = FrameDecoder::<ChatResponse>::with_lines(LineDecoder::new(limit));
        for piece in &pieces {
            lines.push(Bytes::from(piece.clone()));
            frames.push(Bytes::from(piece.clone()));
            loop {
                match lines.next_line() {
                    Ok(Some(line)) => {
                        prop_assert!(line.len() <= limit, "{} > {limit}", line.len());
                        prop_assert!(!line.contains(&b'\n'));
                    }
                    Ok(None) => break,
                    Err(err) => {
                        prop_assert_eq!(err.kind(), om_core::ErrorKind::Protocol);
                        break;
                    }
                }
            }
            while let Ok(Some(_)) = frames.next_frame() {}
        }
        if let Ok(Some(rest)) = lines.finish() {
            prop_assert!(rest.len() <= limit);
        }
        let _ = frames.finish();
    }
}
