//! The cgroup v2 hierarchy as a directory tree: a cgroup's id is its
//! directory's inode, its path the directory below the mount.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Bytes read at most from one cgroup file.
const MAX_FILE: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroupfs {
    mount: PathBuf,
}

impl Cgroupfs {
    pub fn at(mount: impl Into<PathBuf>) -> Cgroupfs {
        Cgroupfs { mount: mount.into() }
    }

    /// Where it is mounted (as seen from the host's root).
    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// The directory of cgroup `path` ("/kubepods.slice/...").
    pub fn dir(&self, path: &str) -> PathBuf {
        self.mount.join(path.trim_start_matches('/'))
    }

    /// The id of cgroup `path`, if it exists.
    pub fn id_of(&self, path: &str) -> Option<u64> {
        fs::metadata(self.dir(path)).ok().map(|m| m.ino())
    }

    /// Every cgroup: (id, path relative to the mount, "/" for the root).
    pub fn walk(&self) -> Vec<(u64, String)> {
        let mut found = Vec::new();
        let mut stack = vec![self.mount.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(meta) = fs::metadata(&dir) else { continue };
            let relative = dir.strip_prefix(&self.mount).map(|p| format!("/{}", p.display())).unwrap_or_default();
            found.push((meta.ino(), relative));
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
        found
    }

    /// A file of cgroup `path` (`cpu.stat`, `memory.current`), if it has it.
    /// The kernel makes these files: small, and never a link.
    pub fn read(&self, path: &str, file: &str) -> Option<String> {
        use std::io::Read;
        let mut text = String::new();
        fs::File::open(self.dir(path).join(file)).ok()?.take(MAX_FILE).read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// Its CPU time so far, in microseconds (`cpu.stat` usage_usec: cgroup
    /// v2 has it for every cgroup, also without the cpu controller).
    pub fn cpu_usage_usec(&self, path: &str) -> Option<u64> {
        self.read(path, "cpu.stat")?.lines().find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse().ok())
    }

    /// The processes in cgroup `path` itself.
    pub fn pids(&self, path: &str) -> Vec<u32> {
        self.read(path, "cgroup.procs").map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect()).unwrap_or_default()
    }

    /// The names of the cgroups directly below `path`.
    pub fn children(&self, path: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.dir(path)) else { return Vec::new() };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect()
    }
}
