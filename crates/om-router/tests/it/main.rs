//! Integration tests of om-router through its public API: eligibility
//! (with a proptest against an independent oracle), strategies, fairness
//! and weights, affinity learning, custom strategies.

mod affinity;
mod eligibility;
mod strategies;
mod support;
