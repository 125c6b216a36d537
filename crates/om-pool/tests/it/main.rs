//! Integration tests of om-pool through its public API, on paused time
//! unless a test says otherwise.

mod autoscale;
mod budget;
mod cancel;
mod dispatch;
mod events;
mod lifecycle;
mod persist;
mod quotas;
mod spares;
mod support;
