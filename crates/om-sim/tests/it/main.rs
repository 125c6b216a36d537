//! Integration tests of the simulator over real HTTP on 127.0.0.1, mostly
//! with paused time: the simulator's clock is tokio's, so loads, keep-alive
//! and token pacing are exact and instant.

#![allow(clippy::unwrap_used, reason = "helpers, like the tests, panic on an unexpected response")]

mod compute;
mod concurrency;
mod errors;
mod faults;
mod framing;
mod manage;
mod openai;
mod support;
mod timing;
