//! Whether this process may load and attach eBPF programs.

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set from /proc/self/status.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    capabilities_in(&status)
}

fn capabilities_in(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// CAP_BPF with CAP_PERFMON (tracing programs), or CAP_SYS_ADMIN, which implies both.
pub fn can_load_bpf() -> bool {
    effective_capabilities().is_some_and(|c| has(c, CAP_SYS_ADMIN) || (has(c, CAP_BPF) && has(c, CAP_PERFMON)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_capeff() {
        let root = "Name:\tpodtop\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let caps = capabilities_in(root).unwrap();
        assert!(has(caps, CAP_SYS_ADMIN) && has(caps, CAP_BPF));
        let user = "CapEff:\t0000000000000000\n";
        assert_eq!(capabilities_in(user), Some(0));
        let bpf_only = format!("CapEff:\t{:016x}\n", (1u64 << CAP_BPF) | (1u64 << CAP_PERFMON));
        let caps = capabilities_in(&bpf_only).unwrap();
        assert!(!has(caps, CAP_SYS_ADMIN) && has(caps, CAP_BPF) && has(caps, CAP_PERFMON));
    }
}
