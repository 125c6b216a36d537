//! [`BadInput`]: the error of a command whose input (flags, configuration,
//! task file, repository) is wrong. `main` prints it and exits 2, so a
//! command returns it with `?` like any other error.

/// Exit code for invalid input (configuration, task files).
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

/// The input is wrong; the message says what and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadInput(pub(crate) String);

impl BadInput {
    /// Bad input described by `error` (its whole chain of causes).
    pub(crate) fn from_error(error: impl Into<anyhow::Error>) -> Self {
        Self(format!("{:#}", error.into()))
    }
}
