//! Network namespaces on the node: which one owns an address, and which cgroup lives in it.
//!
//! Pods have their own network namespace; an address that belongs to one
//! names the pod at the other end of a connection. Read from /proc without
//! entering any namespace: /proc/PID/net shows the namespace of PID.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::host::{Cgroupfs, Host};

const RESCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Namespaces learnt between rescans, at most: bounded under pod churn.
const MAX_NAMESPACES: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub struct NetnsMember {
    pub cgroup_id: u64,
}

pub struct NetnsDirectory {
    host: Host,
    cgroupfs: Option<Cgroupfs>,
    host_netns: u32,
    /// address -> netns inode, without loopback addresses
    owners: HashMap<IpAddr, u32>,
    /// netns inode -> local addresses
    addresses: HashMap<u32, Vec<IpAddr>>,
    /// netns inode -> processes in it (their cgroup), to name the pod it belongs to
    members: HashMap<u32, Vec<NetnsMember>>,
    last_scan: Option<Instant>,
}

impl NetnsDirectory {
    pub fn new(host: Host, cgroupfs: Option<Cgroupfs>) -> Self {
        let mut dir = NetnsDirectory {
            host_netns: host_netns(&host),
            host,
            cgroupfs,
            owners: HashMap::new(),
            addresses: HashMap::new(),
            members: HashMap::new(),
            last_scan: None,
        };
        dir.rescan();
        dir
    }

    /// A process in this network namespace is on the host network.
    pub fn host_netns(&self) -> u32 {
        self.host_netns
    }

    /// The namespace that owns `addr` (not loopback), rescanning at most once a second.
    pub fn owner_of(&mut self, addr: IpAddr) -> Option<u32> {
        if addr.is_loopback() || addr.is_unspecified() {
            return None;
        }
        if let Some(ns) = self.owners.get(&addr) {
            return Some(*ns);
        }
        self.maybe_rescan();
        self.owners.get(&addr).copied()
    }

    /// Whether `addr` is local to `netns` (loopback always is).
    pub fn is_local(&mut self, netns: u32, addr: IpAddr) -> bool {
        if addr.is_loopback() {
            return true;
        }
        if !self.addresses.contains_key(&netns) {
            self.maybe_rescan();
        }
        self.addresses.get(&netns).is_some_and(|a| a.contains(&addr))
    }

    pub fn members(&mut self, netns: u32) -> &[NetnsMember] {
        if !self.members.contains_key(&netns) {
            self.maybe_rescan();
        }
        self.members.get(&netns).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Learns the namespace of a process that just did something, while it is
    /// still alive: a pod's first listen or connect names its addresses at once.
    pub fn learn(&mut self, netns: u32, pid: u32, cgroup_id: u64) {
        if netns == 0 || self.addresses.contains_key(&netns) {
            return;
        }
        if self.addresses.len() >= MAX_NAMESPACES {
            self.rescan(); // starts over from the namespaces that exist now
            if self.addresses.contains_key(&netns) {
                return;
            }
        }
        let process = self.host.process(pid);
        if process.netns() != Some(netns) {
            return; // exited, or the pid was reused
        }
        self.members.entry(netns).or_default().push(NetnsMember { cgroup_id });
        self.read_addresses(netns, pid);
    }

    fn read_addresses(&mut self, netns: u32, pid: u32) {
        let local = self.host.process(pid).local_addresses();
        for addr in &local {
            if !addr.is_loopback() && !is_link_local_v6(addr) {
                self.owners.entry(*addr).or_insert(netns);
            }
        }
        self.addresses.insert(netns, local);
    }

    fn maybe_rescan(&mut self) {
        if self.last_scan.is_none_or(|t| t.elapsed() >= RESCAN_INTERVAL) {
            self.rescan();
        }
    }

    fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        self.owners.clear();
        self.addresses.clear();
        self.members.clear();
        let Some(cgroupfs) = self.cgroupfs.clone() else { return };
        for pid in self.host.pids() {
            let process = self.host.process(pid);
            let Some(netns) = process.netns() else { continue };
            let Some(cgroup_id) = process.cgroup_id(&cgroupfs) else { continue };
            let members = self.members.entry(netns).or_default();
            if members.len() < 64 {
                members.push(NetnsMember { cgroup_id });
            }
            if !self.addresses.contains_key(&netns) {
                self.read_addresses(netns, pid);
            }
        }
    }
}

/// The host's network namespace: PID 1's, or podtop's own where PID 1 is out
/// of reach (a sandbox); podtop runs on the host network like any node agent.
fn host_netns(host: &Host) -> u32 {
    host.process(1).netns().or_else(|| host.myself().netns()).unwrap_or(0)
}

fn is_link_local_v6(addr: &IpAddr) -> bool {
    matches!(addr, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}
