//! One module per screen, each with its state, its keys and its drawing:
//! the node view, a group's detail, the sidecar scope, the help; and the
//! parts around them: header, event pane, footer, and the keys it names.

pub mod detail;
pub mod events;
pub mod footer;
pub mod header;
pub mod help;
pub mod keys;
pub mod node;
pub mod sidecar;

use crate::aggregate::model::NodeModel;
use crate::records::run::RunInfo;

/// What every screen draws from: the model, the run, and what it shows.
pub struct Context<'a> {
    pub model: &'a NodeModel,
    pub run: &'a RunInfo,
    /// Requests and DNS lookups are shown where the run watches them, or
    /// the recording it plays has some.
    pub requests_shown: bool,
    pub lookups_shown: bool,
}
