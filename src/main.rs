//! podtop: exec, file and network activity of every process on the node,
//! attributed to its container and pod, seen from the kernel with eBPF.
//!
//! kernel (src/bpf) -> probes (load, attach) -> events (decode) -> enrich
//! (cgroup -> container, pod) -> pipeline -> output (JSON lines).

mod aggregate;
mod cli;
mod clock;
mod collect;
mod enrich;
mod events;
mod filter;
mod output;
mod pipeline;
mod privileges;
mod probes;
mod probes_report;
mod stream;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Probes) => probes_report::print(),
        None => stream::run(collect::CollectOptions {
            classes: cli.event_classes(),
            filter: filter::Filter { pod: cli.pod.clone(), namespace: cli.namespace.clone(), container: cli.container.clone() },
            pid: cli.pid,
            duration: cli.duration,
            interval: cli.interval,
            ringbuf_bytes: cli.ringbuf_mib * 1024 * 1024,
            ringbuf_kinds: collect::CollectOptions::ALL_KINDS,
            bpf_run_time: false,
        }),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("podtop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
