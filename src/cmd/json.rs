//! `podtop --json` (or stdout not a terminal): the kernel's records,
//! enriched, as a stream of JSON lines.


use anyhow::Result;

use crate::cli::Cli;
use crate::collect::{collect, Ended};
use crate::output::writer::BackgroundWriter;
use crate::output::JsonSink;
use crate::records::Tee;
use crate::shutdown::Shutdown;


pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
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
        let mut summary = format!(
            "podtop: {} events seen, {} lost in the kernel (ring buffer full), {} counter updates dropped (maps full)",
            stats.seen_total(),
            stats.lost_total(),
            stats.file_io_dropped + stats.udp_dropped + stats.cgroup_dropped,
        );
        if output.dropped_records() > 0 {
            summary += &format!(", {} records not written (the output stopped taking them)", output.dropped_records());
        }
        summary += &format!(", {attached} probes detached");
        if output_error.is_none() {
            eprintln!("{summary}");
        }
    }
    Ok(())
}
