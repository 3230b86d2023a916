//! What a run is: the node, its kernel, what podtop attached there and what
//! it was asked to watch. `StartInfo` is what a live run tells its sinks
//! before the first record (the JSON start record says it all);
//! `RunInfo` is what the TUI's header shows, from a live start or from a
//! recording's start record.

use std::path::PathBuf;

use crate::enrich::filter::Filter;
use crate::events::EventClasses;
use crate::probes::{ProbeReport, ProbeStatus};

/// A live run, as its sinks learn it before the first record.
pub struct StartInfo<'a> {
    pub node: String,
    pub kernel: String,
    /// Where cgroup v2 is mounted; empty when it is not.
    pub cgroup_mount: String,
    pub probes: &'a [ProbeReport],
    pub classes: EventClasses,
    pub filter: &'a Filter,
    pub pid: Option<u32>,
}

/// Where the TUI's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Live { recording: bool },
    Replay { path: PathBuf },
}

/// What the TUI's header says about the run itself.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub node: String,
    pub kernel: String,
    pub probes_attached: usize,
    /// Skipped (the kernel lacks them) or refused: gaps in what is seen.
    pub probes_skipped: usize,
    pub source: Source,
    /// What `--events` chose; None for a recording, whose start record does not say.
    pub classes: Option<EventClasses>,
}

impl Default for RunInfo {
    fn default() -> Self {
        RunInfo { node: String::new(), kernel: String::new(), probes_attached: 0, probes_skipped: 0, source: Source::Live { recording: false }, classes: None }
    }
}

impl RunInfo {
    /// The header of a live run. Stand-ins a better program made
    /// unnecessary, and what `--events` left out, are not gaps.
    pub fn live(start: &StartInfo, recording: bool) -> RunInfo {
        let with_status = |status: fn(&ProbeStatus) -> bool| start.probes.iter().filter(|p| status(&p.status)).count();
        RunInfo {
            node: start.node.clone(),
            kernel: start.kernel.clone(),
            probes_attached: with_status(|s| matches!(s, ProbeStatus::Attached)),
            probes_skipped: with_status(|s| matches!(s, ProbeStatus::Skipped(_) | ProbeStatus::Failed(_))),
            source: Source::Live { recording },
            classes: Some(start.classes),
        }
    }

    /// Whether this run watches HTTP requests (`--events ...,http`); for a
    /// recording, false: its requests tell by being there.
    pub fn watches_http(&self) -> bool {
        self.classes.is_some_and(|c| c.contains(EventClasses::HTTP))
    }

    /// Whether this run watches DNS lookups (`--events ...,dns`); for a
    /// recording, false, as for requests.
    pub fn watches_dns(&self) -> bool {
        self.classes.is_some_and(|c| c.contains(EventClasses::DNS))
    }

    pub fn is_replay(&self) -> bool {
        matches!(self.source, Source::Replay { .. })
    }
}
