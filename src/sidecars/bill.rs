//! A sidecar's bill for one interval: its CPU and memory from its cgroup,
//! the resident size of its processes, what the pod's other containers sent
//! and received through it and the connections that went around it, and the
//! time requests spent in it; and the node's sidecars together.

use std::sync::Arc;

use super::detection::{Relayed, SidecarFinder};
use super::latency::AddedLatency;
use crate::enrich::Attribution;
use crate::host::Host;

/// The node's sidecars together, over one interval: what the `sidecars`
/// record and the TUI's header show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeBill {
    pub sidecars: usize,
    pub cpu_cores: f64,
    pub memory_bytes: u64,
    pub rss_bytes: u64,
    pub relayed_connections: u64,
    pub bypass_connections: u64,
}

impl NodeBill {
    pub fn of(bills: &[(Arc<Attribution>, SidecarBill)]) -> NodeBill {
        let sum = |f: fn(&SidecarBill) -> Option<u64>| bills.iter().filter_map(|(_, b)| f(b)).sum();
        NodeBill {
            sidecars: bills.len(),
            // A fold from +0.0 (an empty f64 sum is -0.0), rounded as each part is.
            cpu_cores: round_cores(bills.iter().filter_map(|(_, b)| b.cpu_cores).fold(0.0, |sum, c| sum + c)),
            memory_bytes: sum(|b| b.memory_bytes),
            rss_bytes: sum(|b| b.rss_bytes),
            relayed_connections: sum(|b| Some(b.relayed.connections)),
            bypass_connections: sum(|b| Some(b.relayed.bypass_connections)),
        }
    }
}

/// One sidecar's bill for one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarBill {
    pub hint: Option<&'static str>,
    /// CPU time over the interval, in cores (cgroup v2 `cpu.stat`).
    pub cpu_cores: Option<f64>,
    /// The cgroup's memory (`memory.current`, where the memory controller is on for it).
    pub memory_bytes: Option<u64>,
    /// The resident size of its processes.
    pub rss_bytes: Option<u64>,
    /// The time requests spend in it: p50 from p50s, p99 from p99s.
    pub added_latency: Option<AddedLatency>,
    pub relayed: Relayed,
}

impl SidecarBill {
    /// Each relayed byte crosses the TCP stack twice more than it would
    /// without the proxy: once more out of the app, once more into the proxy.
    pub fn extra_stack_bytes(&self) -> u64 {
        2 * (self.relayed.tx_bytes + self.relayed.rx_bytes)
    }
}

/// Cores to a tenth of a millicore: finer is noise.
pub fn round_cores(cores: f64) -> f64 {
    (cores * 1e4).round() / 1e4
}

impl SidecarFinder {
    /// Every sidecar's bill since the last call, `seconds` ago.
    pub fn bills(&mut self, host: &Host, seconds: f64) -> Vec<(Arc<Attribution>, SidecarBill)> {
        let page_size = procfs::page_size().max(1);
        let cgroupfs = self.cgroupfs.as_ref();
        let mut bills = Vec::new();
        for flows in self.pods.values_mut() {
            let Some(sidecar) = flows.sidecar.as_ref().and_then(|id| flows.containers.get(id)) else { continue };
            let Some(owner) = sidecar.owner.clone() else { continue };
            let cgroup = owner.cgroup_path.as_deref().zip(cgroupfs);
            let usage = cgroup.and_then(|(path, fs)| fs.cpu_usage_usec(path));
            let cpu_cores = match (usage, flows.cpu_usage_usec) {
                (Some(now), Some(before)) if seconds > 0.0 => Some(round_cores(now.saturating_sub(before) as f64 / 1e6 / seconds)),
                _ => None,
            };
            flows.cpu_usage_usec = usage.or(flows.cpu_usage_usec);
            let pids = cgroup.map(|(path, fs)| fs.pids(path)).unwrap_or_default();
            let memory_bytes = cgroup
                .and_then(|(path, fs)| fs.read(path, "memory.current"))
                .or_else(|| {
                    // The v1/v2 hybrid: the memory controller is v1's. Its processes'
                    // v1 cgroup counts only when it is the container's own (the
                    // same path in both hierarchies, as runtimes make them), not a
                    // parent that holds much else.
                    let v1_path = host.process(*pids.first()?).cgroup_v1_path("memory")?;
                    let own = owner.cgroup_path.as_deref() == Some(v1_path.as_str());
                    own.then(|| host.cgroup_v1("memory")?.read(&v1_path, "memory.usage_in_bytes")).flatten()
                })
                .and_then(|t| t.trim().parse().ok());
            let rss_bytes = (!pids.is_empty())
                .then(|| pids.iter().filter_map(|pid| host.process(*pid).resident_pages()).sum::<u64>() * page_size);
            let added_latency = flows.latency.bill(flows.since_bill.exchanges);
            bills.push((
                owner,
                SidecarBill {
                    hint: sidecar.hint,
                    cpu_cores,
                    memory_bytes,
                    rss_bytes,
                    added_latency,
                    relayed: std::mem::take(&mut flows.since_bill),
                },
            ));
        }
        bills
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Cgroupfs;
    use crate::sidecars::testing::{addr, member};
    use crate::sidecars::Flow;

    #[test]
    fn cpu_and_memory_come_from_the_sidecars_cgroup() {
        let fixture = crate::host::fixture::Fixture::new();
        let cgroupfs = Cgroupfs::at(fixture.root().join("sys/fs/cgroup"));
        let (app, relay, backend) = (member("web", "app"), member("web", "mesh"), member("api", "api"));
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cpu.stat", "usage_usec 1000000\nuser_usec 600000\n");
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current", "25165824\n");
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cgroup.procs", "4242\n");
        fixture.process(4242).statm(3000);
        let mut finder = SidecarFinder::new(Some(cgroupfs));
        finder.connection(Flow::Accept, &relay, "haproxy", Some(&app), false, addr("127.0.0.1:40000"));
        // Found here: its CPU counts from now.
        finder.connection(Flow::Connect, &relay, "haproxy", Some(&backend), true, addr("10.244.0.20:8080"));
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/cpu.stat", "usage_usec 1500000\nuser_usec 800000\n");
        let bill = finder.bills(&fixture.host(), 2.0).remove(0).1;
        assert_eq!(bill.cpu_cores, Some(0.25));
        assert_eq!(bill.memory_bytes, Some(25165824));
        assert_eq!(bill.rss_bytes, Some(3000 * procfs::page_size()));
        assert_eq!(bill.hint, Some("haproxy"));
        // On the v1/v2 hybrid, memory is the v1 memory controller's, found through its process.
        fixture.write("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current", "");
        std::fs::remove_file(fixture.root().join("sys/fs/cgroup/kubepods.slice/web/mesh/memory.current")).unwrap();
        fixture.write(
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n31 23 0:27 / /sys/fs/memory rw - cgroup cgroup rw,memory\n",
        );
        fixture.write("proc/4242/cgroup", "5:memory:/kubepods.slice/web/mesh\n0::/kubepods.slice/web/mesh\n");
        fixture.write("sys/fs/memory/kubepods.slice/web/mesh/memory.usage_in_bytes", "13631488\n");
        let bill = finder.bills(&fixture.host(), 2.0).remove(0).1;
        assert_eq!(bill.memory_bytes, Some(13631488));
        // A process whose v1 memory cgroup is some parent's: no figure rather than the parent's.
        fixture.write("proc/4242/cgroup", "5:memory:/user.slice\n0::/kubepods.slice/web/mesh\n");
        fixture.write("sys/fs/memory/user.slice/memory.usage_in_bytes", "999999999\n");
        assert_eq!(finder.bills(&fixture.host(), 2.0).remove(0).1.memory_bytes, None);
    }
}
