//! One module per screen, each with its state, its keys and its drawing:
//! the node view, a group's detail, the sidecar scope, the help; and the
//! parts around them: header, event pane, footer.

pub mod detail;
pub mod events;
pub mod footer;
pub mod header;
pub mod help;
pub mod node;
pub mod sidecar;
