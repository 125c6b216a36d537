//! Integration tests of om-registry through its public API.

mod catalog;
mod live;
mod snapshot;
mod support;
