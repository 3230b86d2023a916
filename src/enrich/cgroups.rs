//! cgroup id -> cgroup path, on pure cgroup v2 and on the v1/v2 hybrid layout.
//!
//! The kernel announces every new cgroup with its path (the `cgroup_mkdir`
//! tracepoint), so a cgroup that lives for a millisecond still has a name.
//! Cgroups that existed before podtop started are found by walking the v2
//! mount once, and again (rate-limited) when an unknown id shows up.

use std::fs;
use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lru::LruCache;

/// How many cgroup paths are remembered: enough for a busy node, bounded under churn.
const CAPACITY: usize = 16384;
/// An unknown id triggers at most one rescan this often.
const RESCAN_INTERVAL: Duration = Duration::from_millis(500);

/// Where cgroup v2 is mounted: `/sys/fs/cgroup` (pure v2) or `/sys/fs/cgroup/unified` (hybrid).
pub fn find_cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup2_mount_in(&mountinfo)
}

/// Parses /proc/self/mountinfo text for the first cgroup2 mount point.
pub fn cgroup2_mount_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_mountinfo(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[pos + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The cgroup v2 id (its directory's inode) of a running process, from the
/// "0::" line of /proc/PID/cgroup.
pub fn cgroup_id_of_pid(mount: &Path, pid: impl std::fmt::Display) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    fs::metadata(mount.join(path.trim_start_matches('/'))).ok().map(|m| m.ino())
}

pub struct CgroupDirectory {
    mount: Option<PathBuf>,
    paths: LruCache<u64, String>,
    last_scan: Option<Instant>,
}

impl CgroupDirectory {
    pub fn new(mount: Option<PathBuf>) -> Self {
        let mut dir = CgroupDirectory {
            mount,
            paths: LruCache::new(NonZeroUsize::new(CAPACITY).expect("non-zero")),
            last_scan: None,
        };
        dir.rescan();
        dir
    }

    pub fn mount(&self) -> Option<&Path> {
        self.mount.as_deref()
    }

    /// Records a path the kernel announced.
    pub fn insert(&mut self, id: u64, path: String) {
        self.paths.put(id, path);
    }

    pub fn forget(&mut self, id: u64) {
        self.paths.pop(&id);
    }

    /// The path of cgroup `id` relative to the v2 root ("/" for the root).
    pub fn path_of(&mut self, id: u64) -> Option<String> {
        if let Some(path) = self.paths.get(&id) {
            return Some(path.clone());
        }
        let due = self.last_scan.is_none_or(|t| t.elapsed() >= RESCAN_INTERVAL);
        if due {
            self.rescan();
            return self.paths.get(&id).cloned();
        }
        None
    }

    /// Every known (id, path), for filters that select cgroups by what they hold.
    pub fn all(&mut self) -> Vec<(u64, String)> {
        self.rescan();
        self.paths.iter().map(|(id, path)| (*id, path.clone())).collect()
    }

    fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        let Some(mount) = self.mount.clone() else { return };
        let mut stack = vec![mount.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(meta) = fs::metadata(&dir) else { continue };
            let relative = dir.strip_prefix(&mount).map(|p| format!("/{}", p.display())).unwrap_or_default();
            self.paths.put(meta.ino(), relative);
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_hybrid_and_pure_mountinfo() {
        let hybrid = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd";
        assert_eq!(cgroup2_mount_in(hybrid), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let pure = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount_in(pure), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_mount_in("1 0 0:1 / / rw - ext4 /dev/vda rw"), None);
        let escaped = r"36 35 0:31 / /mnt/my\040cgroups rw - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount_in(escaped), Some(PathBuf::from("/mnt/my cgroups")));
    }

    #[test]
    fn walks_a_tree_by_inode() {
        let root = std::env::temp_dir().join(format!("podtop-cgdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("kubepods.slice/pod_a")).unwrap();
        let ino = fs::metadata(root.join("kubepods.slice/pod_a")).unwrap().ino();
        let mut dir = CgroupDirectory::new(Some(root.clone()));
        assert_eq!(dir.path_of(ino).as_deref(), Some("/kubepods.slice/pod_a"));
        let root_ino = fs::metadata(&root).unwrap().ino();
        assert_eq!(dir.path_of(root_ino).as_deref(), Some("/"));
        dir.insert(u64::MAX, "/gone".into());
        assert_eq!(dir.path_of(u64::MAX).as_deref(), Some("/gone"));
        fs::remove_dir_all(root).unwrap();
    }
}
