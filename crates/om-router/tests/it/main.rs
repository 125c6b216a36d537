//! Integration tests of om-router through its public API: eligibility
//! (with a proptest against an independent oracle), strategies, completion
//! time, fairness and weights, affinity learning, custom strategies, and
//! decisions over large fleets (sampled).

mod affinity;
mod completion_time;
mod eligibility;
mod large;
mod strategies;
mod support;
