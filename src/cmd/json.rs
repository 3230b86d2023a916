//! `podtop --json` (or stdout not a terminal): the kernel's records,
//! enriched, as a stream of JSON lines.


use anyhow::{bail, Result};

use crate::cli::Cli;
use crate::pipeline::collect::{collect, Ended};
use crate::output::writer::BackgroundWriter;
use crate::output::JsonSink;
use crate::records::Tee;
use crate::shutdown::Shutdown;


pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    if cli.record.is_some() {
        // Here because stdout is no terminal: the stream itself is the recording.
        bail!("--record is for the TUI; without a terminal podtop streams JSON, which is a recording already: redirect it to a file");
    }
    let opts = super::collect_options(cli, false);
    let metrics = super::metrics_output(cli, shutdown)?;
    let writer = BackgroundWriter::stdout(shutdown.clone())?;
    let output = writer.handle();
    let mut attached = 0;
    let ended = collect(&opts, shutdown, |start| {
        attached = start.probes.iter().filter(|p| p.status == crate::probes::ProbeStatus::Attached).count();
        let mut sink = JsonSink::new(writer, start.node.clone()).counting_dropped(output.clone());
        sink.start(start)?;
        Ok(Tee(sink, metrics.as_ref().map(|m| m.sink(start.node.clone()))))
    })?;
    let output_error = output.finish(|| shutdown.progress());
    if let Ended::Stopped(stats) = ended {
        let not_written = (output.dropped_records() > 0)
            .then(|| format!("{} records not written (the output stopped taking them)", output.dropped_records()));
        if output_error.is_none() {
            eprintln!("{}", super::exit_summary(&stats, not_written, attached));
        }
    }
    Ok(())
}
