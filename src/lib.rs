//! podtop: exec, file and network activity of every process on the node,
//! attributed to its container and pod, seen from the kernel with eBPF.
//!
//! kernel (src/bpf) -> probes (load, attach) -> events (decode) -> enrich
//! (cgroup -> container, pod) -> pipeline -> sink: JSON lines (output) or
//! the TUI's model (aggregate, ui). `collect` runs that loop for every output.
//!
//! # Using podtop as a library
//!
//! The names at the crate root are the public API: what `examples/` and
//! other programs use. They stay where they are when podtop's modules move
//! (only this file changes then), and their record types gain fields rather
//! than lose or rename them. Everything reached through a module path
//! (`podtop::enrich::...`, `podtop::pipeline::...`) is podtop's own inside
//! and may move or change in any release.
//!
//! - Live collection (root, or CAP_BPF and CAP_PERFMON): [`collect_options`]
//!   turns podtop's own command-line flags into [`CollectOptions`];
//!   [`collect()`] loads and attaches the eBPF programs, hands every record to
//!   a [`Sink`] until the [`Shutdown`] is requested or `--duration` ends,
//!   and detaches them. `examples/follow_http.rs` prints one pod's HTTP
//!   requests as they happen; `examples/error_rate.rs` keeps a running error
//!   rate per pod in a sink of its own.
//! - The records a sink sees: [`EventRecord`], [`FileIoRecord`],
//!   [`UdpRecord`], [`CountersRecord`], [`Stats`], [`SidecarsRecord`],
//!   [`HttpRecord`], [`DnsRecord`], who they are about ([`Attribution`]:
//!   [`Pod`], [`Container`]) and what they carry ([`Exchange`], [`Role`],
//!   [`RequestHead`], [`ResponseHead`], [`Lookup`], [`SidecarBill`]). A new
//!   kind of record adds a method to [`Sink`]. An exec's or a connection's
//!   decoded kernel event (`EventRecord::event`, `EventRecord::who`) is the
//!   kernel's own layout, not covered by this promise.
//! - Recordings (no root): [`Recording`] reads `podtop --json` output back,
//!   record by record, as [`schema::Record`]: the typed form of every line
//!   podtop writes, the types the published JSON Schema is made from.
//!   `examples/who.rs` answers "which pod opened this file" and "who called
//!   this endpoint" from a recording.

pub mod aggregate;
pub mod bounded;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod enrich;
pub mod events;
pub mod heap;
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

// The public API: re-exports that stay put when the modules above move
// (see "Using podtop as a library" above).

pub use pipeline::collect::{collect, CollectOptions, Ended};
pub use enrich::cgroup_path::{QosClass, Runtime};
pub use enrich::{Attribution, Container, Pod};
pub use l7::exchanges::{Exchange, Role};
pub use l7::http::{RequestHead, ResponseHead};
pub use l7::lookups::Lookup;
pub use output::schema;
pub use records::run::StartInfo;
pub use records::{
    CountersRecord, DnsRecord, EventRecord, FileIoDelta, FileIoRecord, HttpRecord, NetView, PodtopCost, SidecarsRecord, Sink, Stats, Tee,
    UdpDelta, UdpRecord,
};
pub use shutdown::Shutdown;
pub use sidecars::SidecarBill;

/// Collection options from podtop's own command-line flags, checked as the
/// command line checks them: `["--events=http", "--pod=web-0",
/// "--duration=30"]` is what `podtop --events http --pod web-0 --duration 30`
/// would watch. Flags that choose an output (`--json`, `--metrics`,
/// `--record`) are accepted and mean nothing here; a subcommand is an error.
///
/// An unknown flag or a bad value is an error of one line. A filter that
/// matches nothing (`--pod` with no such pod on the node) is found by
/// [`collect()`], which looks at the node.
pub fn collect_options<I, T>(flags: I) -> anyhow::Result<CollectOptions>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    use clap::Parser;
    let args = std::iter::once(std::ffi::OsString::from("podtop")).chain(flags.into_iter().map(Into::into));
    let cli = cli::Cli::try_parse_from(args).map_err(|e| {
        // clap's message, without its usage and tips: one line.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("bad flags");
        anyhow::anyhow!("{}", first.strip_prefix("error: ").unwrap_or(first))
    })?;
    anyhow::ensure!(cli.command.is_none(), "collection options are podtop's flags, without a command");
    anyhow::ensure!(
        cli.dns_port.len() <= probes::EXTRA_DNS_PORTS,
        "--dns-port: at most {} ports besides 53",
        probes::EXTRA_DNS_PORTS
    );
    Ok(cmd::collect_options(&cli, false))
}

/// A recording's records, in order, after its start record: a file of
/// `podtop --json` output, or one `podtop --record` wrote. No privilege is
/// needed. Lines are read with the bounds `podtop replay` reads them with
/// (none longer than 1 MiB is read into memory); blank lines are skipped.
///
/// ```no_run
/// for record in podtop::Recording::open("minute.jsonl")? {
///     if let podtop::schema::Record::Open(open) = record? {
///         println!("{} opened {}", open.process.comm, open.body.file.path);
///     }
/// }
/// # Ok::<(), anyhow::Error>(())
/// ```
pub struct Recording {
    reader: std::io::BufReader<std::fs::File>,
    line: Vec<u8>,
    /// The number of the line last read (the start record is line 1).
    number: usize,
    /// After an error the reader's place is unknown: nothing more is read.
    failed: bool,
}

impl Recording {
    /// Opens `path` and reads its start record; a file that does not begin
    /// with one is no recording (an error of one line).
    pub fn open(path: impl AsRef<std::path::Path>) -> anyhow::Result<Recording> {
        let (_, reader) = aggregate::from_recording::open(path.as_ref())?;
        Ok(Recording { reader, line: Vec::new(), number: 1, failed: false })
    }
}

impl Iterator for Recording {
    /// A record, or why the line is none (then the iteration ends).
    type Item = anyhow::Result<schema::Record>;

    fn next(&mut self) -> Option<Self::Item> {
        use aggregate::from_recording::{read_line_bounded, MAX_LINE};
        while !self.failed {
            self.number += 1;
            let number = self.number;
            let result = match read_line_bounded(&mut self.reader, &mut self.line, MAX_LINE) {
                Ok(false) => return None,
                Ok(true) if self.line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(true) => match serde_json::from_slice::<schema::Record>(&self.line) {
                    Ok(record) => Ok(record),
                    Err(e) if e.is_syntax() || e.is_eof() => Err(anyhow::anyhow!("line {number} of the recording is not JSON")),
                    Err(e) => Err(anyhow::anyhow!("line {number} of the recording is not a podtop record: {e}")),
                },
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(anyhow::anyhow!("line {number} of the recording is {e}: not a podtop recording")),
                Err(e) => Err(anyhow::Error::new(e).context("reading the recording")),
            };
            self.failed = result.is_err();
            return Some(result);
        }
        None
    }
}
