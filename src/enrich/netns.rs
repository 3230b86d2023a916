//! Network namespaces on the node: which one owns an address, and which cgroup lives in it.
//!
//! Pods have their own network namespace; an address that belongs to one
//! names the pod at the other end of a connection. Read from /proc without
//! entering any namespace: /proc/PID/net shows the namespace of PID.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::cgroups::cgroup_id_of_pid;
use std::time::{Duration, Instant};

const RESCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Namespaces learnt between rescans, at most: bounded under pod churn.
const MAX_NAMESPACES: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub struct NetnsMember {
    pub cgroup_id: u64,
}

#[derive(Default)]
pub struct NetnsDirectory {
    cgroup_mount: Option<PathBuf>,
    host_netns: u32,
    /// address -> netns inode, without loopback addresses
    owners: HashMap<IpAddr, u32>,
    /// netns inode -> local addresses
    addresses: HashMap<u32, Vec<IpAddr>>,
    /// netns inode -> processes in it (their cgroup), to name the pod it belongs to
    members: HashMap<u32, Vec<NetnsMember>>,
    last_scan: Option<Instant>,
}

/// Local IPv4 addresses from /proc/PID/net/fib_trie: leaves marked "/32 host LOCAL".
pub fn parse_fib_trie(text: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    let mut last_leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(addr) = trimmed.strip_prefix("|-- ") {
            last_leaf = addr.trim().parse().ok();
        } else if trimmed.starts_with("/32 host LOCAL") {
            if let Some(addr) = last_leaf {
                if !found.contains(&addr) {
                    found.push(addr);
                }
            }
        }
    }
    found
}

/// Addresses from /proc/PID/net/if_inet6: 32 hex digits first on each line.
pub fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    text.lines()
        .filter_map(|line| {
            let hex = line.split_whitespace().next()?;
            u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32).map(Ipv6Addr::from)
        })
        .collect()
}

fn netns_of(pid: &str) -> Option<u32> {
    fs::metadata(format!("/proc/{pid}/ns/net")).ok().map(|m| m.ino() as u32)
}

impl NetnsDirectory {
    pub fn new(cgroup_mount: Option<PathBuf>) -> Self {
        let mut dir =
            NetnsDirectory { cgroup_mount, host_netns: host_netns(), ..Default::default() };
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
        let pid = pid.to_string();
        if netns_of(&pid) != Some(netns) {
            return; // exited, or the pid was reused
        }
        self.members.entry(netns).or_default().push(NetnsMember { cgroup_id });
        self.read_addresses(netns, &pid);
    }

    fn read_addresses(&mut self, netns: u32, pid: &str) {
        let mut local: Vec<IpAddr> = Vec::new();
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")) {
            local.extend(parse_fib_trie(&text).into_iter().map(IpAddr::V4));
        }
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/if_inet6")) {
            local.extend(parse_if_inet6(&text).into_iter().map(IpAddr::V6));
        }
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
        let Ok(entries) = fs::read_dir("/proc") else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            let Some(netns) = netns_of(pid) else { continue };
            let Some(cgroup_id) = self.cgroup_mount.as_deref().and_then(|m| cgroup_id_of_pid(m, pid)) else { continue };
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
fn host_netns() -> u32 {
    netns_of("1").or_else(|| netns_of("self")).unwrap_or(0)
}

fn is_link_local_v6(addr: &IpAddr) -> bool {
    matches!(addr, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_v4_addresses_from_fib_trie() {
        let text = "\
Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.244.1.0/24 2 0 2
        |-- 10.244.1.0
           /24 link UNICAST
        |-- 10.244.1.7
           /32 host LOCAL
     |-- 127.0.0.1
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.244.1.7
        /32 host LOCAL
     |-- 10.244.1.255
        /32 link BROADCAST
";
        let addrs = parse_fib_trie(text);
        assert_eq!(addrs, vec![Ipv4Addr::new(10, 244, 1, 7), Ipv4Addr::new(127, 0, 0, 1)]);
    }

    #[test]
    fn v6_addresses_from_if_inet6() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fd000000000000000000000000000002 02 40 00 80     eth0\n";
        let addrs = parse_if_inet6(text);
        assert_eq!(addrs, vec![Ipv6Addr::LOCALHOST, "fd00::2".parse::<Ipv6Addr>().unwrap()]);
    }
}
