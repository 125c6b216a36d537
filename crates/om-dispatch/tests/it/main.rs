//! Integration tests of om-dispatch through its public API, on paused time
//! unless a test says otherwise.

mod aging;
mod cancel;
mod events;
mod exactly_once;
mod priority;
mod shutdown;
mod support;
mod workers;
