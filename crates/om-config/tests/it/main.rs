//! Integration tests of om-config through its public API: layering, formats,
//! the `OLLAMA_HOST` default, validation reports and provenance.

#![expect(
    clippy::result_large_err,
    reason = "figment::Jail closures must return figment's Result, whose error type is large"
)]

mod formats;
mod gateway;
mod ollama_host;
mod precedence;
mod provenance;
mod routing;
mod support;
mod validation;
