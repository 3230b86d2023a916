//! `podtop serve --metrics ADDR`: no screen, no stream, only the metrics
//! (what a DaemonSet runs), until a signal or `--duration`.

use anyhow::{bail, Result};

use crate::cli::Cli;
use crate::collect::collect;
use crate::shutdown::Shutdown;

pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    let Some(metrics) = super::metrics_output(cli, shutdown)? else {
        bail!("podtop serve needs --metrics ADDR (for example --metrics 0.0.0.0:9464)");
    };
    collect(&super::collect_options(cli, true), shutdown, |start| Ok(metrics.sink(start.node.clone())))?;
    Ok(())
}
