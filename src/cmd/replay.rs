//! `podtop replay FILE`: a recording in the TUI, without root or BPF.

use std::path::Path;

use anyhow::Result;

use super::tui;
use crate::cli::Cli;
use crate::shutdown::Shutdown;
use crate::ui;

pub fn run(cli: &Cli, file: &Path, speed: f64, shutdown: &Shutdown) -> Result<()> {
    let source = ui::Source::replay(file.to_path_buf(), speed, shutdown.flag())?;
    tui::show(source, cli, shutdown)
}
