//! `podtop replay FILE`: a recording in the TUI, without root or BPF.

use std::path::Path;

use anyhow::Result;

use super::tui;
use crate::aggregate::from_recording;
use crate::cli::Cli;
use crate::shutdown::Shutdown;

pub fn run(cli: &Cli, file: &Path, speed: f64, shutdown: &Shutdown) -> Result<()> {
    let feed = from_recording::feed(file.to_path_buf(), speed, shutdown.flag())?;
    tui::show(feed, cli, shutdown)
}
