//! cgroup id -> cgroup path, on pure cgroup v2 and on the v1/v2 hybrid layout.
//!
//! The kernel announces every new cgroup with its path (the `cgroup_mkdir`
//! tracepoint), so a cgroup that lives for a millisecond still has a name.
//! Cgroups that existed before podtop started are found by walking the v2
//! mount once, and again (rate-limited) when an unknown id shows up.

use std::time::{Duration, Instant};


use crate::host::Cgroupfs;

/// How many cgroup paths are remembered: enough for a busy node, bounded under churn.
const CAPACITY: usize = 16384;
/// An unknown id triggers at most one rescan this often.
const RESCAN_INTERVAL: Duration = Duration::from_millis(500);

pub struct CgroupDirectory {
    cgroupfs: Option<Cgroupfs>,
    paths: crate::bounded::Table<u64, String>,
    last_scan: Option<Instant>,
}

impl CgroupDirectory {
    pub fn new(cgroupfs: Option<Cgroupfs>) -> Self {
        let mut dir = CgroupDirectory {
            cgroupfs,
            paths: crate::bounded::Table::new("cgroup_paths", CAPACITY),
            last_scan: None,
        };
        dir.rescan();
        dir
    }

    pub fn size(&self) -> crate::bounded::TableSize {
        self.paths.size()
    }

    pub fn cgroupfs(&self) -> Option<&Cgroupfs> {
        self.cgroupfs.as_ref()
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
        let Some(cgroupfs) = &self.cgroupfs else { return };
        for (id, path) in cgroupfs.walk() {
            self.paths.put(id, path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn walks_a_tree_by_inode() {
        let root = std::env::temp_dir().join(format!("podtop-cgdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("kubepods.slice/pod_a")).unwrap();
        let ino = fs::metadata(root.join("kubepods.slice/pod_a")).unwrap().ino();
        let mut dir = CgroupDirectory::new(Some(Cgroupfs::at(&root)));
        assert_eq!(dir.path_of(ino).as_deref(), Some("/kubepods.slice/pod_a"));
        let root_ino = fs::metadata(&root).unwrap().ino();
        assert_eq!(dir.path_of(root_ino).as_deref(), Some("/"));
        dir.insert(u64::MAX, "/gone".into());
        assert_eq!(dir.path_of(u64::MAX).as_deref(), Some("/gone"));
        fs::remove_dir_all(root).unwrap();
    }
}
