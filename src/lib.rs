//! podtop: exec, file and network activity of every process on the node,
//! attributed to its container and pod, seen from the kernel with eBPF.
//!
//! kernel (src/bpf) -> probes (load, attach) -> events (decode) -> enrich
//! (cgroup -> container, pod) -> pipeline -> sink: JSON lines (output) or
//! the TUI's model (aggregate, ui). `collect` runs that loop for every output.

pub mod aggregate;
pub mod bounded;
pub mod cli;
pub mod clock;
pub mod collect;
pub mod cmd;
pub mod enrich;
pub mod events;
pub mod host;
pub mod l7;
pub mod output;
pub mod pipeline;
pub mod privileges;
pub mod records;
pub mod probes;
pub mod sandbox;
pub mod shutdown;
pub mod sidecars;
pub mod skeleton;
pub mod ui;
