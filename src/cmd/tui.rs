//! `podtop` on a terminal: the live TUI of this node; `--dump-screen`
//! renders its last screen as text instead, without a terminal. Here the
//! collection loop meets the TUI: what runs already, then its records, go
//! to the TUI's feed, and the records to the `--record` file and the
//! metrics beside it.

use std::fs::File;
use std::io::IsTerminal;

use anyhow::Result;

use super::collect_options;
use crate::aggregate::feed::{self, Feed};
use crate::aggregate::from_records::ObservationSink;
use crate::aggregate::observation::Observation;
use crate::aggregate::present;
use crate::clock::Clock;
use crate::enrich::{Attribution, Enricher};
use crate::host::Host;
use crate::cli::Cli;
use crate::pipeline::collect::{self, CollectOptions};
use crate::output::metrics::MetricsOutput;
use crate::output::recording;
use crate::output::writer::BackgroundWriter;
use crate::output::JsonSink;
use crate::records::run::RunInfo;
use crate::records::Tee;
use crate::shutdown::Shutdown;
use crate::ui;

/// Batches of observations waiting for the UI thread, at most: a few seconds' worth.
const LIVE_BATCHES: usize = 256;

/// The TUI is for a terminal (or a dump of its screen); `--json`, or stdout
/// not a terminal, is the JSON stream.
pub fn wanted(cli: &Cli) -> bool {
    !cli.json && (cli.dump_screen.is_some() || std::io::stdout().is_terminal())
}

pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    let record = cli.record.as_deref().map(|path| recording::create(path, cli.force)).transpose()?;
    let metrics = super::metrics_output(cli, shutdown)?;
    let feed = live(collect_options(cli, true), record, metrics, shutdown.clone())?;
    show(feed, cli, shutdown)
}

/// Live collection on a thread of its own, its records to the TUI's feed,
/// the `--record` file and the metrics; returns once every probe is
/// attached, or with the error that stopped it (before the terminal changes).
fn live(opts: CollectOptions, record: Option<File>, metrics: Option<MetricsOutput>, shutdown: Shutdown) -> Result<Feed> {
    let (to_ui, observations) = feed::channel(LIVE_BATCHES);
    let recording_writer = record.map(|file| BackgroundWriter::to_file(file, shutdown.clone())).transpose()?;
    let recording = recording_writer.as_ref().map(BackgroundWriter::handle);
    let (filter, pid) = (opts.filter.clone(), opts.pid);
    let (run, worker) = collect::spawn(opts, shutdown, move |start| {
        let run = RunInfo::live(start, recording_writer.is_some());
        // Read once every probe is attached: what starts later is seen
        // starting. A recording holds records alone, and replays to the
        // screen the run drew: with one, the screen is what records make.
        let already = match recording_writer {
            Some(_) => Vec::new(),
            None => running_now(|owner, p| pid.is_none_or(|only| only == p) && (!filter.is_active() || filter.matches(owner))),
        };
        let recording = match recording_writer {
            Some(writer) => {
                let mut json = JsonSink::new(writer, start.node.clone());
                json.start(start)?;
                Some(json)
            }
            None => None,
        };
        let metrics = metrics.as_ref().map(|m| m.sink(start.node.clone()));
        Ok((Tee(Tee(ObservationSink::new(to_ui).announcing(already), recording), metrics), run))
    })?;
    Ok(Feed::new(run, observations, worker).then(move || {
        // The recording's writer, once the collection that fed it has ended.
        let Some(recording) = recording else { return };
        if let Some(error) = recording.finish(|| {}) {
            eprintln!("podtop: the recording ended early: {}", std::io::Error::from(error));
        }
        if recording.dropped_records() > 0 {
            eprintln!("podtop: {} records were not written to the recording in time", recording.dropped_records());
        }
    }))
}

/// The pods and containers that hold processes now, those `keep` accepts:
/// rows from the start, also where nothing in them ever moves.
fn running_now(keep: impl Fn(&Attribution, u32) -> bool) -> Vec<Observation> {
    let host = Host::live();
    let mut enricher = Enricher::new(host.clone(), host.cgroupfs());
    present::observations(&mut enricher, &host, Clock::new().now_unix_ns(), keep)
}

/// The TUI on a terminal, or its last screen as text with `--dump-screen`.
pub fn show(feed: Feed, cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    match cli.dump_screen {
        Some((cols, rows)) => {
            print!("{}", ui::dump_screen(feed, cli.interval, cols, rows, &cli.keys)?);
            Ok(())
        }
        None => ui::run_terminal(feed, cli.interval, shutdown),
    }
}
