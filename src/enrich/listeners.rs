//! Listening TCP sockets that exist before podtop starts, and their owners.
//!
//! Connections accepted on them are established in softirq context, where the
//! kernel side cannot tell which process listens; a scan at start-up (as
//! `ss -ltnp` does: /proc/PID/net/tcp{,6} for the sockets, /proc/PID/fd for
//! their owners) fills the kernel's listener table.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub netns: u32,
    pub port: u16,
    pub pid: u32,
}

/// Listening sockets in /proc/net/tcp text: (socket inode, local port).
pub fn parse_proc_net_tcp(text: &str) -> Vec<(u64, u16)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            if fields.get(3) != Some(&"0A") {
                return None; // not TCP_LISTEN
            }
            let port = u16::from_str_radix(fields.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            let inode = fields.get(9)?.parse().ok()?;
            Some((inode, port))
        })
        .collect()
}

fn pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable(); // the lowest pid (the parent of a pre-fork server) owns a shared socket
    pids
}

fn inode_of(path: impl AsRef<Path>) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

pub fn scan() -> Vec<Listener> {
    let pids = pids();
    // socket inode -> (netns, port), one read of each namespace's tables
    let mut sockets: HashMap<u64, (u32, u16)> = HashMap::new();
    let mut namespaces_read = std::collections::HashSet::new();
    for pid in &pids {
        let Some(netns) = inode_of(format!("/proc/{pid}/ns/net")) else { continue };
        if !namespaces_read.insert(netns) {
            continue;
        }
        for table in ["tcp", "tcp6"] {
            if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
                for (inode, port) in parse_proc_net_tcp(&text) {
                    sockets.insert(inode, (netns as u32, port));
                }
            }
        }
    }
    let mut found = Vec::new();
    for pid in pids {
        if sockets.is_empty() {
            break;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else { continue };
            let Some(inode) = target.to_str().and_then(|t| t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()) else {
                continue;
            };
            if let Some((netns, port)) = sockets.remove(&inode) {
                found.push(Listener { netns, port, pid });
            }
        }
    }
    found
}

/// A process's identity as the kernel side records it, read from /proc.
pub fn identity_of(pid: u32, cgroup_mount: Option<&Path>) -> Option<crate::events::ProcessIdentity> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u32> {
        status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
    };
    let cgroup_id = super::cgroups::cgroup_id_of_pid(cgroup_mount?, pid)?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let mut identity = crate::events::ProcessIdentity {
        cgroup_id,
        pid,
        tid: pid,
        ppid: field("PPid:")?,
        uid: field("Uid:")?,
        gid: field("Gid:")?,
        netns: inode_of(format!("/proc/{pid}/ns/net"))? as u32,
        mntns: inode_of(format!("/proc/{pid}/ns/mnt"))? as u32,
        ..Default::default()
    };
    for (slot, byte) in identity.comm.iter_mut().zip(comm.trim_end().bytes().take(15)) {
        *slot = byte as i8;
    }
    Some(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8AE2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
";
        assert_eq!(parse_proc_net_tcp(text), vec![(31337, 8080)]);
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(parse_proc_net_tcp(v6), vec![(4242, 443)]);
    }

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id();
        assert!(scan().iter().any(|l| l.port == port && l.pid == me), "port {port} of pid {me}");
    }
}
