//! `podtop serve --metrics ADDR`: no screen, no stream, only the metrics
//! (what a DaemonSet runs), until a signal or `--duration`.

use anyhow::{bail, Result};

use crate::cli::Cli;
use crate::pipeline::collect::{collect, Ended};
use crate::probes::ProbeStatus;
use crate::shutdown::Shutdown;

pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    let Some(metrics) = super::metrics_output(cli, shutdown)? else {
        bail!("podtop serve needs --metrics ADDR (for example --metrics 0.0.0.0:9464)");
    };
    let mut attached = 0;
    let ended = collect(&super::collect_options(cli, true), shutdown, |start| {
        attached = start.probes.iter().filter(|p| p.status == ProbeStatus::Attached).count();
        Ok(metrics.sink(start.node.clone()))
    })?;
    if let Ended::Stopped(stats) = ended {
        eprintln!("{}", super::exit_summary(&stats, None, attached));
    }
    Ok(())
}
