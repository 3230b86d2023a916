//! `podtop --json`: the kernel's records, enriched, as a stream of JSON lines.

use std::io::{self, Write};

use anyhow::Result;

use crate::collect::{collect, CollectOptions, Ended, StartInfo};
use crate::output::writer::BackgroundWriter;
use crate::output::{JsonSink, Sink};
use crate::shutdown::Shutdown;

pub(crate) fn start_record<W: Write>(sink: &mut JsonSink<W>, start: &StartInfo, opts: &CollectOptions) -> io::Result<()> {
    let now = crate::clock::Clock::new().now_unix_ns();
    let filter = &opts.filter;
    sink.write_raw_line(
        |o| {
            o.str("version", env!("CARGO_PKG_VERSION")).str("kernel", &start.kernel).str("cgroup2", &start.cgroup_mount);
            o.object("probes", |p| {
                for r in start.probes {
                    p.object(r.spec.program, |x| {
                        x.str("hook", r.spec.hook.kind())
                            .str("target", r.spec.hook.target())
                            .str("status", r.status.name())
                            .opt_str("reason", r.status.reason());
                    });
                }
            });
            // What serves each kind of event on this kernel, and what it cannot give.
            let capabilities = crate::probes::capabilities(start.probes, opts.classes);
            o.object("capabilities", |c| {
                for cap in capabilities.iter().filter(|c| c.requested) {
                    c.bytes_array(cap.capability.name(), cap.programs.iter().map(|p| p.as_bytes()));
                }
            });
            o.object("degraded", |d| {
                for cap in capabilities.iter().filter(|c| c.requested) {
                    if let Some(how) = cap.degraded {
                        d.str(cap.capability.name(), how);
                    }
                }
            });
            o.object("unavailable", |u| {
                for cap in capabilities.iter().filter(|c| c.requested && c.programs.is_empty()) {
                    u.str(cap.capability.name(), cap.capability.missing_means());
                }
            });
            o.object("filters", |f| {
                f.opt_str("pod", filter.pod.as_deref())
                    .opt_str("namespace", filter.namespace.as_deref())
                    .opt_str("container", filter.container.as_deref())
                    .opt_u64("pid", opts.pid.map(u64::from));
            });
        },
        "start",
        now,
    )?;
    sink.flush()
}

pub fn run(opts: CollectOptions, shutdown: &Shutdown) -> Result<()> {
    let writer = BackgroundWriter::stdout(shutdown.clone())?;
    let output = writer.handle();
    let mut attached = 0;
    let ended = collect(&opts, shutdown, |start| {
        attached = start.probes.iter().filter(|p| p.status == crate::probes::ProbeStatus::Attached).count();
        let mut sink = JsonSink::new(writer, start.node.clone()).counting_dropped(output.clone());
        start_record(&mut sink, start, &opts)?;
        Ok(sink)
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
