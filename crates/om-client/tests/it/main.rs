//! Integration tests of om-client: every call, every failure mode, the
//! timeouts, the retry policy and the Host header, against scripted loopback
//! servers (exact bytes) and the om-sim simulator; plus property tests of the
//! NDJSON decoder.

mod calls;
mod decoder;
mod errors;
mod faults;
mod host;
mod lines;
mod openai;
mod retry;
mod sim;
mod support;
mod timeouts;
