//! One process as /proc/PID shows it. Every reader returns `None` (or
//! nothing) when the process is gone, as any of them can at any moment.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use procfs::process::{Stat, StatM, Status};
use procfs::{FromRead, FromReadSI, ProcessCGroups};

use super::{Cgroupfs, Mounts};

#[derive(Debug, Clone)]
pub struct HostProcess {
    dir: PathBuf,
}

/// What /proc/PID/status says of a process's identity and rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStatus {
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// The effective capability set, one bit per capability.
    pub effective_capabilities: u64,
}

/// An open file descriptor, as the kernel's own tables name it: no look-up on its filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub mount_id: u64,
    pub inode: u64,
}

impl HostProcess {
    pub(super) fn at(dir: PathBuf) -> HostProcess {
        HostProcess { dir }
    }

    fn namespace(&self, kind: &str) -> Option<u32> {
        // The inode of the namespace file names the namespace, as the kernel side records it.
        fs::metadata(self.dir.join("ns").join(kind)).ok().map(|m| m.ino() as u32)
    }

    pub fn netns(&self) -> Option<u32> {
        self.namespace("net")
    }

    pub fn mntns(&self) -> Option<u32> {
        self.namespace("mnt")
    }

    /// Its cgroup in the v1 hierarchy of `controller`, where there is one.
    pub fn cgroup_v1_path(&self, controller: &str) -> Option<String> {
        let cgroups = ProcessCGroups::from_file(self.dir.join("cgroup")).ok()?;
        cgroups.into_iter().find(|c| c.hierarchy != 0 && c.controllers.iter().any(|c| c == controller)).map(|c| c.pathname)
    }

    /// The cgroup v2 path ("0::" line of /proc/PID/cgroup).
    pub fn cgroup_path(&self) -> Option<String> {
        let cgroups = ProcessCGroups::from_file(self.dir.join("cgroup")).ok()?;
        cgroups.into_iter().find(|c| c.hierarchy == 0).map(|c| c.pathname)
    }

    /// The cgroup v2 id of the process, its cgroup directory's inode.
    pub fn cgroup_id(&self, cgroupfs: &Cgroupfs) -> Option<u64> {
        cgroupfs.id_of(&self.cgroup_path()?)
    }

    pub fn status(&self) -> Option<ProcessStatus> {
        let status = Status::from_file(self.dir.join("status")).ok()?;
        Some(ProcessStatus {
            ppid: u32::try_from(status.ppid).ok()?,
            uid: status.ruid,
            gid: status.rgid,
            effective_capabilities: status.capeff,
        })
    }

    /// The command name (at most 15 bytes).
    pub fn comm(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("comm")).ok().map(|c| c.trim_end_matches('\n').to_string())
    }

    fn stat(&self) -> Option<Stat> {
        Stat::from_file(self.dir.join("stat")).ok()
    }

    /// When the process started, in clock ticks after boot.
    pub fn start_ticks(&self) -> Option<u64> {
        self.stat().map(|s| s.starttime)
    }

    /// CPU time used, user and system, in clock ticks.
    pub fn cpu_ticks(&self) -> Option<u64> {
        self.stat().map(|s| s.utime + s.stime)
    }

    pub fn resident_pages(&self) -> Option<u64> {
        StatM::from_file(self.dir.join("statm")).ok().map(|m| m.resident)
    }

    /// The mount table of the process's mount namespace.
    pub fn mounts(&self) -> Mounts {
        Mounts::parse(&fs::read_to_string(self.dir.join("mountinfo")).unwrap_or_default())
    }

    /// Listening TCP sockets of the process's network namespace: (socket inode, port).
    pub fn tcp_listeners(&self) -> Vec<(u64, u16)> {
        let info = procfs::current_system_info();
        let mut found = Vec::new();
        for table in ["tcp", "tcp6"] {
            let Ok(entries) = procfs::net::TcpNetEntries::from_file(self.dir.join("net").join(table), info) else {
                continue;
            };
            found.extend(
                entries
                    .0
                    .into_iter()
                    .filter(|e| e.state == procfs::net::TcpState::Listen)
                    .map(|e| (e.inode, e.local_address.port())),
            );
        }
        found
    }

    /// Addresses local to the process's network namespace, loopback included.
    pub fn local_addresses(&self) -> Vec<IpAddr> {
        let mut local: Vec<IpAddr> = Vec::new();
        if let Ok(text) = fs::read_to_string(self.dir.join("net/fib_trie")) {
            local.extend(parse_fib_trie(&text).into_iter().map(IpAddr::V4));
        }
        if let Ok(text) = fs::read_to_string(self.dir.join("net/if_inet6")) {
            local.extend(parse_if_inet6(&text).into_iter().map(IpAddr::V6));
        }
        local
    }

    /// The numbers of the process's open file descriptors.
    pub fn fds(&self) -> Vec<u32> {
        let Ok(entries) = fs::read_dir(self.dir.join("fd")) else { return Vec::new() };
        entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
    }

    /// The socket inode behind descriptor `fd`, if it is a socket.
    pub fn socket_inode(&self, fd: u32) -> Option<u64> {
        let target = fs::read_link(self.dir.join("fd").join(fd.to_string())).ok()?;
        target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
    }

    /// The file behind descriptor `fd`, from fdinfo (inode since Linux 5.14),
    /// which asks the file's filesystem nothing (a stat() would).
    pub fn open_file(&self, fd: u32) -> Option<OpenFile> {
        let fdinfo = fs::read_to_string(self.dir.join("fdinfo").join(fd.to_string())).ok()?;
        let (mount_id, inode) = parse_fdinfo(&fdinfo)?;
        Some(OpenFile { mount_id, inode })
    }

    /// The path descriptor `fd` was opened by, from readlink(), which reads
    /// the kernel's dentries and asks no filesystem either.
    pub fn fd_path(&self, fd: u32) -> Option<Vec<u8>> {
        let path = fs::read_link(self.dir.join("fd").join(fd.to_string())).ok()?;
        Some(path.as_os_str().as_bytes().to_vec())
    }
}

/// (mount id, inode) of an open file, from the text of /proc/PID/fdinfo/N.
/// procfs reads fdinfo's flags and position, not these.
pub fn parse_fdinfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok());
    Some((field("mnt_id:")?, field("ino:")?))
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
