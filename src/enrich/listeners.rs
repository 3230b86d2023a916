//! Listening TCP sockets that exist before podtop starts, and their owners.
//!
//! Connections accepted on them are established in softirq context, where the
//! kernel side cannot tell which process listens; a scan at start-up (as
//! `ss -ltnp` does: /proc/PID/net/tcp{,6} for the sockets, /proc/PID/fd for
//! their owners) fills the kernel's listener table.

use std::collections::{HashMap, HashSet};

use crate::host::{Cgroupfs, Host};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub netns: u32,
    pub port: u16,
    pub pid: u32,
}

pub fn scan(host: &Host) -> Vec<Listener> {
    let pids = host.pids();
    // socket inode -> (netns, port), one read of each namespace's tables
    let mut sockets: HashMap<u64, (u32, u16)> = HashMap::new();
    let mut namespaces_read = HashSet::new();
    for pid in &pids {
        let process = host.process(*pid);
        let Some(netns) = process.netns() else { continue };
        if namespaces_read.insert(netns) {
            for (inode, port) in process.tcp_listeners() {
                sockets.insert(inode, (netns, port));
            }
        }
    }
    let mut found = Vec::new();
    // Lowest pid first: the parent of a pre-fork server owns a shared socket.
    for pid in pids {
        if sockets.is_empty() {
            break;
        }
        let process = host.process(pid);
        for fd in process.fds() {
            let Some(inode) = process.socket_inode(fd) else { continue };
            if let Some((netns, port)) = sockets.remove(&inode) {
                found.push(Listener { netns, port, pid });
            }
        }
    }
    found
}

/// A process's identity as the kernel side records it, read from /proc.
pub fn identity_of(host: &Host, pid: u32, cgroupfs: &Cgroupfs) -> Option<crate::events::ProcessIdentity> {
    let process = host.process(pid);
    let status = process.status()?;
    let mut identity = crate::events::ProcessIdentity {
        cgroup_id: process.cgroup_id(cgroupfs)?,
        pid,
        tid: pid,
        ppid: status.ppid,
        uid: status.uid,
        gid: status.gid,
        netns: process.netns()?,
        mntns: process.mntns()?,
        ..Default::default()
    };
    let comm = process.comm()?;
    for (slot, byte) in identity.comm.iter_mut().zip(comm.bytes().take(15)) {
        *slot = byte as i8;
    }
    Some(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id();
        assert!(scan(&Host::live()).iter().any(|l| l.port == port && l.pid == me), "port {port} of pid {me}");
    }
}
