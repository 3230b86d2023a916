//! What each command does: the JSON stream, the TUI (live or replayed), the demo, the probe list.

use std::io::IsTerminal;

use crate::cli::{Cli, Command};
use crate::collect::CollectOptions;
use crate::output::recording;
use crate::shutdown::Shutdown;
use crate::{demo, filter, probes_report, stream, ui};

pub fn collect_options(cli: &Cli, for_tui: bool) -> CollectOptions {
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
        skip_probes: cli.skip_probes.clone(),
        bpf_run_time: for_tui && cli.bpf_stats,
        redact: !cli.no_redact,
    }
}

/// The TUI on a terminal, or its last screen as text with --dump-screen.
pub fn present(source: ui::Source, cli: &Cli, shutdown: &Shutdown) -> anyhow::Result<()> {
    match cli.dump_screen {
        Some((cols, rows)) => {
            print!("{}", ui::dump_screen(source, cli.interval, cols, rows, &cli.keys)?);
            Ok(())
        }
        None => ui::run_terminal(source, cli.interval, shutdown),
    }
}

/// The live TUI on this node (also the demo's).
pub fn live_tui(cli: &Cli, shutdown: &Shutdown) -> anyhow::Result<()> {
    let record = cli.record.as_deref().map(|path| recording::create(path, cli.force)).transpose()?;
    let source = ui::Source::live(collect_options(cli, true), record, shutdown.clone())?;
    present(source, cli, shutdown)
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let wants_tui = !cli.json && (cli.dump_screen.is_some() || std::io::stdout().is_terminal());
    let shutdown = Shutdown::install(cli.duration)?;
    let result = match &cli.command {
        Some(Command::Probes) => probes_report::print(&cli.skip_probes),
        Some(Command::Replay { file, speed }) => {
            let source = ui::Source::replay(file.clone(), *speed, shutdown.flag())?;
            present(source, &cli, &shutdown)
        }
        Some(Command::Demo) => demo::run(&cli, wants_tui, &shutdown),
        None if !wants_tui => stream::run(collect_options(&cli, false), &shutdown),
        None => live_tui(&cli, &shutdown),
    };
    shutdown.finished();
    result
}
