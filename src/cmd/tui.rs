//! `podtop` on a terminal: the live TUI of this node; `--dump-screen`
//! renders its last screen as text instead, without a terminal.

use std::io::IsTerminal;

use anyhow::Result;

use super::collect_options;
use crate::cli::Cli;
use crate::output::recording;
use crate::shutdown::Shutdown;
use crate::ui;

/// The TUI is for a terminal (or a dump of its screen); `--json`, or stdout
/// not a terminal, is the JSON stream.
pub fn wanted(cli: &Cli) -> bool {
    !cli.json && (cli.dump_screen.is_some() || std::io::stdout().is_terminal())
}

pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    let record = cli.record.as_deref().map(|path| recording::create(path, cli.force)).transpose()?;
    let metrics = super::metrics_output(cli, shutdown)?;
    let source = ui::Source::live(collect_options(cli, true), record, metrics, shutdown.clone())?;
    show(source, cli, shutdown)
}

/// The TUI on a terminal, or its last screen as text with `--dump-screen`.
pub fn show(source: ui::Source, cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    match cli.dump_screen {
        Some((cols, rows)) => {
            print!("{}", ui::dump_screen(source, cli.interval, cols, rows, &cli.keys)?);
            Ok(())
        }
        None => ui::run_terminal(source, cli.interval, shutdown),
    }
}
