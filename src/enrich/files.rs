//! (mount namespace, device, inode) -> the path a file was opened by, to name
//! files in per-file counters.
//!
//! Open records give paths as they happen. Where opens are not shipped (the
//! TUI counts them in the kernel), the file is looked up among the open file
//! descriptors of the process that did the I/O, while it still runs.
//!
//! A path is a name in one mount namespace, and one inode has as many names as
//! links, bind mounts and symlinks lead to it. Names are kept per mount
//! namespace: a pod that opens a host file through a link it named itself
//! (`innocent`, into a hostPath volume) names it so for its own processes only,
//! never for the host's or another pod's, which have namespaces of their own.
//!
//! That lookup never touches the files themselves: a stat() of
//! /proc/PID/fd/N asks the file's filesystem, and a FUSE or network server
//! that stopped answering would hold podtop for good. /proc/PID/fdinfo/N
//! gives the inode and mount id from the kernel's own tables, the mount id
//! gives the device (/proc/PID/mountinfo), and readlink() the path.

use std::time::{Duration, Instant};


use crate::host::{Host, Mounts};

const CAPACITY: usize = 65536;
/// A name neither opened nor asked for this long is forgotten: the table
/// holds the files in use, not every file the node ever opened (temporary
/// files are new names all the time). A file in use again is named again by
/// its next open, or a scan of its descriptors.
const IDLE_AGE: Duration = Duration::from_secs(300);
/// Descriptor scans per read of the counters, at most: bounded work per tick.
const SCANS_PER_READ: usize = 64;

/// One file as seen from one mount namespace: the kernel's mount namespace
/// inode number (`who.mntns`), dev_t and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub mntns: u32,
    pub dev: u32,
    pub ino: u64,
}

pub struct FilePaths {
    host: Host,
    /// Each name, with when it was last opened or asked for.
    by_inode: crate::bounded::Table<FileKey, (Vec<u8>, Instant)>,
    scans_left: usize,
}

impl FilePaths {
    pub fn new(host: Host) -> Self {
        FilePaths {
            host,
            // A name pushed out by the bound is found again by a scan of the
            // descriptors of the next process that does I/O on its file.
            by_inode: crate::bounded::Table::new("file_names", CAPACITY),
            scans_left: SCANS_PER_READ,
        }
    }

    pub fn opened(&mut self, file: FileKey, path: &[u8]) {
        // Most opens are of files opened before: no allocation for those.
        if let Some((known, used)) = self.by_inode.get_mut(&file) {
            if known.as_slice() == path {
                *used = Instant::now();
                return;
            }
        }
        self.remember(file, path.to_vec());
    }

    fn remember(&mut self, file: FileKey, path: Vec<u8>) {
        self.by_inode.push(file, (path, Instant::now()));
    }

    pub fn size(&self) -> crate::bounded::TableSize {
        self.by_inode.size()
    }

    /// Starts a new read of the counters: the scan budget is renewed, and
    /// names idle for `IDLE_AGE` are forgotten.
    pub fn new_read(&mut self) {
        self.scans_left = SCANS_PER_READ;
        self.forget_idle(Instant::now());
    }

    fn forget_idle(&mut self, now: Instant) {
        // The least recently used is the longest idle: stop at the first one in use.
        while self.by_inode.peek_lru().is_some_and(|(_, (_, used))| now.saturating_duration_since(*used) >= IDLE_AGE) {
            self.by_inode.pop_lru();
        }
    }

    /// The name `file` has in its mount namespace; where none is known, the
    /// one process `pid` (of that namespace) has it open by.
    pub fn path_of(&mut self, file: FileKey, pid: u32) -> Option<Vec<u8>> {
        if let Some((path, used)) = self.by_inode.get_mut(&file) {
            *used = Instant::now();
            return Some(path.clone());
        }
        if self.scans_left == 0 {
            return None;
        }
        self.scans_left -= 1;
        let path = self.scan_fds(pid, file.dev, file.ino)?;
        self.remember(file, path.clone());
        Some(path)
    }

    /// `dev` is the kernel's dev_t, (major << 20) | minor.
    fn scan_fds(&self, pid: u32, dev: u32, ino: u64) -> Option<Vec<u8>> {
        let process = self.host.process(pid);
        let mut mounts: Option<Mounts> = None;
        process.fds().into_iter().find_map(|fd| {
            let file = process.open_file(fd).filter(|f| f.inode == ino)?;
            let mounts = mounts.get_or_insert_with(|| process.mounts());
            if mounts.by_id(file.mount_id)?.dev != dev {
                return None;
            }
            process.fd_path(fd)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn finds_an_open_file_among_our_own_descriptors() {
        let path = std::env::temp_dir().join(format!("podtop-files-{}", std::process::id()));
        let file = fs::File::create(&path).unwrap();
        let meta = file.metadata().unwrap();
        // The kernel's dev_t of the file's filesystem, as the BPF side reads it.
        let kernel_dev = ((libc::major(meta.dev()) << 20) | libc::minor(meta.dev())) as u32;
        let mut paths = FilePaths::new(Host::live());
        let key = FileKey { mntns: 4026531841, dev: kernel_dev, ino: meta.ino() };
        let found = paths.path_of(key, std::process::id()).unwrap();
        assert_eq!(found, path.as_os_str().as_bytes());
        drop(file);
        fs::remove_file(&path).unwrap();
        // Cached: found again without the descriptor.
        assert_eq!(paths.path_of(key, std::process::id()).unwrap(), path.as_os_str().as_bytes());
    }

    #[test]
    fn a_name_given_in_one_mount_namespace_is_never_another_namespaces_name() {
        let mut paths = FilePaths::new(Host::live());
        let (host_ns, pod_ns, other_pod_ns) = (4026531841, 4026532900, 4026532901);
        let at = |mntns| FileKey { mntns, dev: (254 << 20) | 1, ino: 4242 };
        paths.opened(at(host_ns), b"/srv/app/real-name");
        // A pod opens the same inode through a link it named itself, again and again.
        for _ in 0..3 {
            paths.opened(at(pod_ns), b"/data/innocent");
        }
        // No scan needed (pid 0 has no descriptors): the names are the ones each namespace opened it by.
        assert_eq!(paths.path_of(at(host_ns), 0).as_deref(), Some(&b"/srv/app/real-name"[..]));
        assert_eq!(paths.path_of(at(pod_ns), 0).as_deref(), Some(&b"/data/innocent"[..]));
        assert_eq!(paths.path_of(at(other_pod_ns), 0), None, "a third namespace that never opened it has no name for it");
        // The host reopening it by its own name changes nothing for the pod.
        paths.opened(at(host_ns), b"/srv/app/real-name");
        assert_eq!(paths.path_of(at(pod_ns), 0).as_deref(), Some(&b"/data/innocent"[..]));
    }

    #[test]
    fn names_are_bounded_and_what_the_bound_drops_is_counted() {
        let mut paths = FilePaths::new(Host::live());
        let extra = 1000;
        for ino in 0..(CAPACITY + extra) as u64 {
            paths.opened(FileKey { mntns: 1, dev: 1, ino }, b"/f");
        }
        assert_eq!(paths.by_inode.len(), CAPACITY);
        assert_eq!(paths.size().evicted, extra as u64);
        // A rename of a known file is no drop.
        paths.opened(FileKey { mntns: 1, dev: 1, ino: CAPACITY as u64 }, b"/g");
        assert_eq!(paths.size().evicted, extra as u64);
    }

    #[test]
    fn names_idle_past_their_age_are_forgotten_and_those_in_use_stay() {
        let mut paths = FilePaths::new(Host::live());
        let key = |ino| FileKey { mntns: 1, dev: 1, ino };
        for ino in 0..100 {
            paths.opened(key(ino), b"/tmp/once");
        }
        paths.opened(key(7), b"/var/log/app.log");
        let later = Instant::now() + IDLE_AGE / 2;
        paths.forget_idle(later);
        assert_eq!(paths.by_inode.len(), 100, "none idle long enough yet");
        // One file asked for by its I/O (pid 0 has no descriptors to scan: the name is the cached one).
        paths.by_inode.get_mut(&key(7)).unwrap().1 = later;
        paths.forget_idle(Instant::now() + IDLE_AGE + Duration::from_secs(1));
        assert_eq!(paths.by_inode.len(), 1, "the idle names went");
        assert_eq!(paths.path_of(key(7), 0).as_deref(), Some(&b"/var/log/app.log"[..]));
    }
}
