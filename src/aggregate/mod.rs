//! Aggregation in user space, for the TUI: records (live, from the
//! pipeline's sink, or from a recording) become observations, and so does
//! what already runs when a live run starts; the feed hands them to the UI
//! thread, and the node model sums them into what the screens show.

pub mod feed;
pub mod from_recording;
pub mod from_records;
pub mod lookups;
pub mod model;
pub mod observation;
pub mod present;
pub mod requests;
