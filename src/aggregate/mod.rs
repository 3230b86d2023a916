//! Aggregation in user space of what the kernel counts: deltas of cumulative counters.

pub mod deltas;
