//! Making and removing the sandbox's cgroups, in every hierarchy: runc also
//! makes a container's cgroup in each v1 controller of a hybrid layout.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

/// Every root where a sandbox cgroup can live: the v2 mount, and the v1
/// controllers of a hybrid layout.
fn roots() -> Vec<PathBuf> {
    crate::host::Mounts::of_this_process()
        .all()
        .iter()
        .filter(|m| m.fstype == "cgroup2" || m.fstype == "cgroup")
        .map(|m| m.point.clone())
        .collect()
}

/// Removes cgroup `relative` and its parents up to and including `up_to`,
/// as long as they are empty, in every hierarchy; what runs in `relative`
/// is killed first (cgroup.kill), and a busy directory is tried again for a
/// second (a killed process takes a moment to leave). The parents are only
/// ever removed, never killed: cgroup.kill ends a whole subtree, and theirs
/// holds every other pod of their QoS class.
pub fn remove(relative: &str, up_to: &str) {
    for root in roots() {
        let top = root.join(up_to.trim_start_matches('/'));
        let leaf = root.join(relative.trim_start_matches('/'));
        if !leaf.starts_with(&top) {
            continue;
        }
        let mut path = leaf.clone();
        loop {
            if path.exists() {
                let kill = path.join("cgroup.kill");
                if path == leaf && kill.exists() {
                    let _ = fs::write(&kill, "1");
                }
                for _ in 0..50 {
                    if fs::remove_dir(&path).is_ok() || !path.exists() || has_children(&path) {
                        break;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            }
            if path == top {
                break;
            }
            let Some(parent) = path.parent() else { break };
            path = parent.to_path_buf();
        }
    }
}

/// Whether a cgroup directory holds other cgroups: then it is not ours to remove yet.
fn has_children(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|entries| entries.flatten().any(|e| e.file_type().is_ok_and(|t| t.is_dir())))
}

/// A cgroup's CPU time so far (cgroup v2 cpu.stat usage_usec), in microseconds.
pub fn cpu_usec(path: &Path) -> u64 {
    crate::host::Cgroupfs::at(path).cpu_usage_usec("/").unwrap_or(0)
}
