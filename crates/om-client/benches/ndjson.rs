//! Throughput of the sans-IO NDJSON decoder on a realistic chat stream:
//! ~500 chat chunks cut into 1–4 KiB network-sized pieces.
//!
//! Run with: `cargo bench -p om-client --bench ndjson`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use om_client::{FrameDecoder, LineDecoder};
use om_core::wire::ChatResponse;

/// A chat stream as Ollama writes it: one line per token, then the final
/// chunk with metrics.
fn chat_stream(tokens: usize) -> Vec<u8> {
    let words =
        [" The", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering", ".", "\\n"];
    let mut out = Vec::new();
    for i in 0..tokens {
        let line = format!(
            "{{\"model\":\"llama3.2\",\"created_at\":\"2025-10-26T17:21:{:02}.{:09}Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}},\"done\":false}}\n",
            i % 60,
            i * 7919 % 1_000_000_000,
            words[i % words.len()],
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(
        b"{\"model\":\"llama3.2\",\"created_at\":\"2025-10-26T17:21:59.1Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,\"prompt_eval_duration\":342546000,\"eval_count\":500,\"eval_duration\":4535599000}\n",
    );
    out
}

/// Cuts `bytes` into pieces of 1–4 KiB with a fixed pseudo-random sequence.
fn network_pieces(bytes: &[u8]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut state: u32 = 0x1234_5678;
    let mut at = 0;
    while at < bytes.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = 1024 + (state as usize % 3072);
        let end = (at + len).min(bytes.len());
        pieces.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
    }
    pieces
}

fn bench_ndjson(c: &mut Criterion) {
    let stream = chat_stream(500);
    let pieces = network_pieces(&stream);
    let mut group = c.benchmark_group("ndjson");
    group.throughput(Throughput::Bytes(stream.len() as u64));

    group.bench_function("lines_500_chunks", |b| {
        b.iter(|| {
            let mut lines = LineDecoder::default();
            let mut count = 0_usize;
            for piece in &pieces {
                lines.push(piece.clone());
                while let Some(line) = lines.next_line().expect("valid stream") {
                    count += black_box(line).len();
                }
            }
            count
        });
    });

    group.bench_function("chat_frames_500_chunks", |b| {
        b.iter(|| {
            let mut frames = FrameDecoder::<ChatResponse>::new();
            let mut count = 0_usize;
            for piece in &pieces {
                frames.push(piece.clone());
                while let Some(frame) = frames.next_frame().expect("valid stream") {
                    count += black_box(frame).message.content.len();
                }
            }
            if let Some(frame) = frames.finish().expect("valid stream") {
                count += frame.message.content.len();
            }
            count
        });
    });
    group.finish();
}

criterion_group!(benches, bench_ndjson);
criterion_main!(benches);
