//! The commands, one room each with the same shape: `run(&Cli, &Shutdown)`.
//! `podtop` (TUI on a terminal, JSON otherwise), `podtop replay`, `podtop
//! demo`, `podtop probes`, `podtop serve`, and the documents drawn from the
//! command line itself (`podtop completions`, the man page). Signals and the deadline are handled in one place,
//! `shutdown`, installed here once for every command.

pub mod demo;
pub mod docs;
pub mod json;
pub mod probes;
pub mod replay;
pub mod serve;
pub mod tui;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::pipeline::collect::CollectOptions;
use crate::enrich::filter::Filter;
use crate::output::metrics::{Bounds, MetricsOptions, MetricsOutput, TlsFiles};
use crate::shutdown::Shutdown;

pub fn run(mut cli: Cli) -> Result<()> {
    anyhow::ensure!(
        cli.dns_port.len() <= crate::probes::EXTRA_DNS_PORTS,
        "--dns-port: at most {} ports besides 53",
        crate::probes::EXTRA_DNS_PORTS
    );
    if matches!(cli.command, Some(Command::Demo)) {
        demo::watch_requests(&mut cli);
    }
    let shutdown = Shutdown::install(cli.duration)?;
    let result = match &cli.command {
        Some(Command::Probes) => probes::run(&cli),
        Some(Command::Replay { file, speed }) => replay::run(&cli, file, *speed, &shutdown),
        Some(Command::Demo) => demo::run(&cli, &shutdown),
        Some(Command::Serve) => serve::run(&cli, &shutdown),
        Some(Command::Completions { shell }) => docs::completions(*shell),
        Some(Command::Manpage) => docs::manpage(),
        None if tui::wanted(&cli) => tui::run(&cli, &shutdown),
        None => json::run(&cli, &shutdown),
    };
    shutdown.finished();
    result
}

/// `--metrics ADDR`: served from before collection starts (a taken port is an error at once).
pub fn metrics_output(cli: &Cli, shutdown: &Shutdown) -> Result<Option<MetricsOutput>> {
    let options = MetricsOptions {
        forget_after: cli.metrics_forget,
        max_cgroups: cli.metrics_max_cgroups,
        // Ten intervals missed, and never less than 30 s: a slow node is not a dead podtop.
        stale_after: (cli.interval * 10).max(std::time::Duration::from_secs(30)),
        tls: cli.metrics_tls_cert.clone().zip(cli.metrics_tls_key.clone()).map(|(cert, key)| TlsFiles {
            cert,
            key,
            client_ca: cli.metrics_client_ca.clone(),
        }),
        bounds: Bounds { max_connections: cli.metrics_max_connections as usize, ..Bounds::default() },
    };
    cli.metrics.map(|addr| MetricsOutput::start(addr, &options, shutdown.clone())).transpose()
}

/// The line on stderr at the end: what was seen, lost and dropped, and the probes detached.
pub fn exit_summary(stats: &crate::records::Stats, also: Option<String>, probes_detached: usize) -> String {
    let mut summary = format!(
        "podtop: {} events seen, {} lost in the kernel (ring buffer full), {} counter updates dropped (maps full)",
        stats.seen_total(),
        stats.lost_total(),
        stats.file_io_dropped + stats.udp_dropped + stats.cgroup_dropped,
    );
    if let Some(also) = also {
        summary += &format!(", {also}");
    }
    summary + &format!(", {probes_detached} probes detached")
}

/// What the collection loop is asked to do, from the flags.
pub fn collect_options(cli: &Cli, for_tui: bool) -> CollectOptions {
    CollectOptions {
        classes: cli.event_classes(),
        filter: Filter { pod: cli.pod.clone(), namespace: cli.namespace.clone(), container: cli.container.clone() },
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
        http_query: cli.http_query,
        dns_ports: cli.dns_port.clone(),
        node_name: cli.node_name.clone(),
    }
}
