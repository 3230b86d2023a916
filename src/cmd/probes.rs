//! `podtop probes`: every probe, whether it attached, and why not; then what
//! serves each kind of event on this kernel and what it cannot give.

use std::io::Write;
use std::mem::MaybeUninit;

use anyhow::Result;

use crate::cli::Cli;
use crate::probes::{self, EventClasses, KernelConfig, Probes};

pub fn run(cli: &Cli) -> Result<()> {
    let skip_probes = &cli.skip_probes;
    probes::configure_libbpf_logging();
    let config = KernelConfig {
        classes: EventClasses::ALL,
        filter_pid: None,
        filter_by_cgroup: false,
        ringbuf_bytes: 1024 * 1024,
        ringbuf_kinds: u32::MAX,
        first_open_per_file: false,
        skip_probes: skip_probes.to_vec(),
        wakeup_bytes: 0,
        dns_ports: Vec::new(),
        progress_interval_ns: 0,
    };
    let mut storage = MaybeUninit::uninit();
    let loaded = Probes::load(&mut storage, &config)?;
    let mut lines = vec![format!("{:<22} {:<6} {:<28} {:<9} {}", "PROGRAM", "HOOK", "ATTACH POINT", "STATUS", "WHAT IT GIVES / WHY NOT")];
    for r in &loaded.report {
        let detail = r.status.reason().unwrap_or(r.spec.provides);
        lines.push(format!(
            "{:<22} {:<6} {:<28} {:<9} {}",
            r.spec.program,
            r.spec.hook.kind(),
            r.spec.hook.target(),
            r.status.name(),
            detail
        ));
    }
    lines.push(String::new());
    lines.push(format!("{:<22} {}", "CAPABILITY", "SERVED BY"));
    for cap in probes::capabilities(&loaded.report, config.classes) {
        let served = match (cap.programs.is_empty(), cap.degraded) {
            (true, _) => format!("nothing on this kernel: {}", cap.capability.missing_means()),
            (false, Some(how)) => format!("{} ({how})", cap.programs.join(", ")),
            (false, None) => cap.programs.join(", "),
        };
        lines.push(format!("{:<22} {served}", cap.capability.name()));
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break; // closed stdout: nothing more to say
        }
    }
    Ok(())
}
