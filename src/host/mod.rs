//! The host behind one seam: everything podtop reads from /proc, cgroupfs
//! and the container runtimes' state directories goes through a [`Host`].
//!
//! On a node its root is `/`; in tests it is a fixture tree (a directory
//! holding `proc/`, `sys/fs/cgroup/`, `run/...`), so enrichment is tested
//! without root and without the machine's own processes. Parsing of the
//! kernel's formats is the `procfs` crate's where it has them; what it lacks
//! or reads differently (fdinfo's inode, mountinfo's escapes, fib_trie) is
//! parsed here, next to the reads.

pub mod cgroupfs;
pub mod mounts;
mod process;
pub mod safe_fs;
mod usage;

use std::fs;
use std::path::{Path, PathBuf};

pub use cgroupfs::Cgroupfs;
pub use mounts::{Mount, Mounts};
pub use process::{HostProcess, OpenFile, ProcessStatus};
pub use usage::{OwnUsage, UsageMeter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The machine podtop runs on.
    pub fn live() -> Host {
        Host { root: PathBuf::from("/") }
    }

    /// A host whose `/` is `root`: a fixture tree in tests.
    pub fn at(root: impl Into<PathBuf>) -> Host {
        Host { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (absolute on the host) as seen from here.
    pub fn path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    fn read_trimmed(&self, path: &str) -> Option<String> {
        fs::read_to_string(self.path(path)).ok().map(|s| s.trim().to_string())
    }

    pub fn node_name(&self) -> String {
        self.read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default()
    }

    pub fn kernel_release(&self) -> String {
        self.read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default()
    }

    /// Whether the kernel keeps BPF run-time statistics (kernel.bpf_stats_enabled).
    pub fn bpf_stats_enabled(&self) -> bool {
        self.read_trimmed("/proc/sys/kernel/bpf_stats_enabled").is_some_and(|v| v == "1")
    }

    /// When the machine booted, in Unix nanoseconds (`btime` of /proc/stat).
    pub fn boot_time_unix_ns(&self) -> Option<u64> {
        use procfs::FromReadSI;
        let stats = procfs::KernelStats::from_file(self.path("/proc/stat"), procfs::current_system_info()).ok()?;
        stats.btime.checked_mul(1_000_000_000)
    }

    /// This process.
    pub fn myself(&self) -> HostProcess {
        HostProcess::at(self.path("/proc/self"))
    }

    pub fn process(&self, pid: u32) -> HostProcess {
        HostProcess::at(self.path(format!("/proc/{pid}")))
    }

    /// Every process, lowest pid first (the parent of a pre-fork server before its children).
    pub fn pids(&self) -> Vec<u32> {
        let Ok(entries) = fs::read_dir(self.path("/proc")) else { return Vec::new() };
        let mut pids: Vec<u32> = entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
        pids.sort_unstable();
        pids
    }

    /// podtop's own mount table: which filesystems may not be looked up on.
    pub fn own_mounts(&self) -> Mounts {
        self.myself().mounts()
    }

    /// The cgroup v2 hierarchy: `/sys/fs/cgroup` (pure v2) or
    /// `/sys/fs/cgroup/unified` (the v1/v2 hybrid), as podtop's mount table says.
    pub fn cgroupfs(&self) -> Option<Cgroupfs> {
        let mounts = self.own_mounts();
        let point = &mounts.all().iter().find(|m| m.fstype == "cgroup2")?.point;
        Some(Cgroupfs::at(self.path(point)))
    }

    /// The cgroup v1 hierarchy of `controller` (memory, on the v1/v2 hybrid), where it is mounted.
    pub fn cgroup_v1(&self, controller: &str) -> Option<Cgroupfs> {
        let mounts = self.own_mounts();
        let point = &mounts
            .all()
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller))?
            .point;
        Some(Cgroupfs::at(self.path(point)))
    }
}

#[cfg(test)]
pub mod fixture;
#[cfg(test)]
mod tests;
