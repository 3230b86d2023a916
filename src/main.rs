//! podtop: exec, file and network activity of every process on the node,
//! attributed to its container and pod, seen from the kernel with eBPF.
//!
//! kernel (src/bpf) -> probes (load, attach) -> events (decode) -> enrich
//! (cgroup -> container, pod) -> pipeline -> sink: JSON lines (output) or
//! the TUI's model (aggregate, ui).

mod aggregate;
mod cli;
mod clock;
mod collect;
mod demo;
mod enrich;
mod events;
mod filter;
mod output;
mod pipeline;
mod privileges;
mod probes;
mod probes_report;
mod replay;
mod stream;
mod ui;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

pub(crate) use cli::Cli;
use cli::Command;
use collect::CollectOptions;

fn collect_options(cli: &Cli, for_tui: bool) -> CollectOptions {
    CollectOptions {
        classes: cli.event_classes(),
        filter: filter::Filter { pod: cli.pod.clone(), namespace: cli.namespace.clone(), container: cli.container.clone() },
        pid: cli.pid,
        duration: cli.duration,
        interval: cli.interval,
        ringbuf_bytes: cli.ringbuf_mib * 1024 * 1024,
        ringbuf_kinds: CollectOptions::ALL_KINDS,
        // The TUI counts opens in the kernel; it needs an open only to name a file.
        first_open_per_file: for_tui,
        bpf_run_time: for_tui,
    }
}

/// The TUI on a terminal, or its last screen as text with --dump-screen.
fn present(source: ui::Source, cli: &Cli, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> anyhow::Result<()> {
    match cli.dump_screen {
        Some((cols, rows)) => {
            print!("{}", ui::dump_screen(source, cli.interval, cols, rows, &cli.keys)?);
            Ok(())
        }
        None => ui::run_terminal(source, cli.interval, stop),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let wants_tui = !cli.json && (cli.dump_screen.is_some() || std::io::stdout().is_terminal());
    match &cli.command {
        Some(Command::Probes) => probes_report::print(),
        Some(Command::Replay { file, speed }) => {
            let stop = stream::stop_on_signals()?;
            let source = ui::Source::replay(file.clone(), *speed, stop.clone())?;
            present(source, &cli, stop)
        }
        Some(Command::Demo) => demo::run(&cli, wants_tui),
        None if !wants_tui => stream::run(collect_options(&cli, false)),
        None => {
            let stop = stream::stop_on_signals()?;
            let source = ui::Source::live(collect_options(&cli, true), cli.record.clone(), stop.clone())?;
            present(source, &cli, stop)
        }
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
