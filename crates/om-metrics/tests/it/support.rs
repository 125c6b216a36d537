//! Shared helpers: names and record builders.

use std::time::Duration;

use om_core::{EndpointId, ModelName};

/// An endpoint id.
pub(crate) fn endpoint(id: &str) -> EndpointId {
    EndpointId::new(id)
}

/// A parsed model name.
pub(crate) fn model(name: &str) -> ModelName {
    name.parse().expect("test model names are valid")
}

/// Milliseconds as a duration.
pub(crate) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Asserts that `got` is within the snapshot's quantile precision of
/// `exact`: at it or at most 1% above.
#[track_caller]
pub(crate) fn assert_quantile(got: Option<f64>, exact: f64) {
    let got = got.expect("a quantile of a non-empty distribution");
    assert!(got >= exact - 1e-9 && got <= exact * 1.01 + 1e-9, "got {got}, want {exact} (+1%)");
}
