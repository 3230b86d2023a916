//! (device, inode) -> the path a file was opened by, to name files in per-file counters.
//!
//! Open records give paths as they happen. Where opens are not shipped (the
//! TUI counts them in the kernel), the file is looked up among the open file
//! descriptors of the process that did the I/O, while it still runs.
//!
//! That lookup never touches the files themselves: a stat() of
//! /proc/PID/fd/N asks the file's filesystem, and a FUSE or network server
//! that stopped answering would hold podtop for good. /proc/PID/fdinfo/N
//! gives the inode and mount id from the kernel's own tables, the mount id
//! gives the device (/proc/PID/mountinfo), and readlink() the path.

use std::num::NonZeroUsize;

use lru::LruCache;

use crate::host::{Host, Mounts};

const CAPACITY: usize = 65536;
/// Descriptor scans per read of the counters, at most: bounded work per tick.
const SCANS_PER_READ: usize = 64;

pub struct FilePaths {
    host: Host,
    by_inode: LruCache<(u32, u64), Vec<u8>>,
    scans_left: usize,
}

impl FilePaths {
    pub fn new(host: Host) -> Self {
        FilePaths {
            host,
            by_inode: LruCache::new(NonZeroUsize::new(CAPACITY).expect("non-zero")),
            scans_left: SCANS_PER_READ,
        }
    }

    pub fn opened(&mut self, dev: u32, ino: u64, path: &[u8]) {
        // Most opens are of files opened before: no allocation for those.
        if self.by_inode.get(&(dev, ino)).is_some_and(|known| known.as_slice() == path) {
            return;
        }
        self.by_inode.put((dev, ino), path.to_vec());
    }

    /// Starts a new read of the counters: the scan budget is renewed.
    pub fn new_read(&mut self) {
        self.scans_left = SCANS_PER_READ;
    }

    pub fn path_of(&mut self, dev: u32, ino: u64, pid: u32) -> Option<Vec<u8>> {
        if let Some(path) = self.by_inode.get(&(dev, ino)) {
            return Some(path.clone());
        }
        if self.scans_left == 0 {
            return None;
        }
        self.scans_left -= 1;
        let path = self.scan_fds(pid, dev, ino)?;
        self.by_inode.put((dev, ino), path.clone());
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
        let found = paths.path_of(kernel_dev, meta.ino(), std::process::id()).unwrap();
        assert_eq!(found, path.as_os_str().as_bytes());
        drop(file);
        fs::remove_file(&path).unwrap();
        // Cached: found again without the descriptor.
        assert_eq!(paths.path_of(kernel_dev, meta.ino(), std::process::id()).unwrap(), path.as_os_str().as_bytes());
    }
}
