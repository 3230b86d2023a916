//! `podtop probes`: every probe, whether it attached, and why not.

use std::io::Write;
use std::mem::MaybeUninit;

use anyhow::Result;

use crate::probes::{self, EventClasses, KernelConfig, Probes};

pub fn print(skip_probes: &[String]) -> Result<()> {
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
    };
    let mut storage = MaybeUninit::uninit();
    let loaded = Probes::load(&mut storage, &config)?;
    let mut out = std::io::stdout().lock();
    let mut lines = vec![format!("{:<16} {:<28} {:<9} {}", "PROGRAM", "TRACEPOINT (tp_btf)", "STATUS", "WHAT IT GIVES / WHY NOT")];
    for r in &loaded.report {
        let detail = r.status.reason().unwrap_or(r.spec.provides);
        lines.push(format!("{:<16} {:<28} {:<9} {}", r.spec.program, r.spec.tracepoint, r.status.name(), detail));
    }
    lines.push(String::new());
    lines.push("kprobe/fentry upgrades: none needed; every source above is a BTF tracepoint (no tracefs, no kprobes).".into());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break; // closed stdout: nothing more to say
        }
    }
    Ok(())
}
