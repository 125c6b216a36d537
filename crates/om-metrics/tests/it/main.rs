//! Integration tests of om-metrics through its public API: recording and
//! snapshot numbers, the Prometheus exposition checked with an independent
//! parser, concurrent recording, and the event stream.
#![allow(
    clippy::float_cmp,
    reason = "bucket bounds, counts and exact sums are compared exactly on purpose"
)]

mod concurrency;
mod events;
mod prometheus;
mod recording;
mod support;
