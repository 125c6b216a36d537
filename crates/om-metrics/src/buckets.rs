//! The fixed Prometheus bucket bounds of each histogram.
//!
//! Quantiles (p50/p95/p99 in the JSON snapshot) come from an HDR histogram and
//! do not depend on these; the bounds only shape the `_bucket{le=…}` series.
//! They are fixed so that series from different processes and versions can be
//! aggregated; changing them is a breaking change for dashboards.

/// `ollama_meta_request_duration_seconds`: an embedding answers in tens of
/// milliseconds, a long generation takes minutes.
pub const REQUEST_DURATION_SECONDS: &[f64] =
    &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0];

/// `ollama_meta_time_to_first_token_seconds`: a warm model starts within
/// milliseconds, a cold load takes seconds to tens of seconds.
pub const TIME_TO_FIRST_TOKEN_SECONDS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0];

/// `ollama_meta_tokens_per_second`: from a large model on a CPU to a small
/// one on a fast GPU.
pub const TOKENS_PER_SECOND: &[f64] =
    &[1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// `ollama_meta_task_duration_seconds`: a task may span several attempts and
/// long agent sessions.
pub const TASK_DURATION_SECONDS: &[f64] =
    &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_strictly_increasing_and_positive() {
        for bounds in [
            REQUEST_DURATION_SECONDS,
            TIME_TO_FIRST_TOKEN_SECONDS,
            TOKENS_PER_SECOND,
            TASK_DURATION_SECONDS,
        ] {
            assert!(bounds[0] > 0.0);
            assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]), "{bounds:?}");
        }
    }
}
