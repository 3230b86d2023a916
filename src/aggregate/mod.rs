//! Aggregation in user space of what the kernel counts and reports: deltas of
//! cumulative counters, and the node model the TUI renders.

pub mod lookups;
pub mod model;
pub mod observation;
pub mod requests;
