//! Whether this process may load and attach eBPF programs.

use crate::host::Host;

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// CAP_BPF with CAP_PERFMON (tracing programs), or CAP_SYS_ADMIN, which implies both.
pub fn can_load_bpf(host: &Host) -> bool {
    host.myself().status().is_some_and(|s| allows_bpf(s.effective_capabilities))
}

fn allows_bpf(caps: u64) -> bool {
    has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_or_bpf_with_perfmon() {
        assert!(allows_bpf(0x000001ff_ffffffff), "root");
        assert!(!allows_bpf(0), "a user");
        assert!(allows_bpf((1 << CAP_BPF) | (1 << CAP_PERFMON)));
        assert!(!allows_bpf(1 << CAP_BPF), "CAP_BPF alone cannot attach tracing programs");
        assert!(allows_bpf(1 << CAP_SYS_ADMIN));
    }

    #[test]
    fn reads_the_effective_set_of_the_host_process() {
        let fixture = crate::host::fixture::Fixture::new();
        fixture.process(1).status(0, 0, 0, 0x000001ff_ffffffff);
        assert!(can_load_bpf(&fixture.host_as_pid(1)));
        fixture.process(2).status(1, 1000, 1000, 0);
        assert!(!can_load_bpf(&fixture.host_as_pid(2)));
    }
}
