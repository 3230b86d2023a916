//! (device, inode) -> the path a file was opened by, to name files in per-file counters.
//!
//! Open records give paths as they happen. Where opens are not shipped (the
//! TUI counts them in the kernel), the file is looked up among the open file
//! descriptors of the process that did the I/O, while it still runs.

use std::fs;
use std::num::NonZeroUsize;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use lru::LruCache;

const CAPACITY: usize = 65536;
/// Descriptor scans per read of the counters, at most: bounded work per tick.
const SCANS_PER_READ: usize = 64;

pub struct FilePaths {
    by_inode: LruCache<(u32, u64), Vec<u8>>,
    scans_left: usize,
}

impl Default for FilePaths {
    fn default() -> Self {
        FilePaths { by_inode: LruCache::new(NonZeroUsize::new(CAPACITY).expect("non-zero")), scans_left: SCANS_PER_READ }
    }
}

/// The kernel's internal dev_t (major << 20 | minor) as user space's st_dev.
fn user_dev(kernel_dev: u32) -> u64 {
    libc::makedev(kernel_dev >> 20, kernel_dev & 0xfffff)
}

impl FilePaths {
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
        let path = Self::scan_fds(pid, user_dev(dev), ino)?;
        self.by_inode.put((dev, ino), path.clone());
        Some(path)
    }

    fn scan_fds(pid: u32, dev: u64, ino: u64) -> Option<Vec<u8>> {
        let dir = format!("/proc/{pid}/fd");
        fs::read_dir(&dir).ok()?.flatten().find_map(|fd| {
            let meta = fs::metadata(fd.path()).ok()?;
            if meta.ino() != ino || meta.dev() != dev {
                return None;
            }
            fs::read_link(fd.path()).ok().map(|p| p.as_os_str().as_bytes().to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_open_file_among_our_own_descriptors() {
        let path = std::env::temp_dir().join(format!("podtop-files-{}", std::process::id()));
        let file = fs::File::create(&path).unwrap();
        let meta = file.metadata().unwrap();
        let kernel_dev = ((libc::major(meta.dev()) << 20) | libc::minor(meta.dev())) as u32;
        let mut paths = FilePaths::default();
        let found = paths.path_of(kernel_dev, meta.ino(), std::process::id()).unwrap();
        assert_eq!(found, path.as_os_str().as_bytes());
        drop(file);
        fs::remove_file(&path).unwrap();
        // Cached: found again without the descriptor.
        assert_eq!(paths.path_of(kernel_dev, meta.ino(), std::process::id()).unwrap(), path.as_os_str().as_bytes());
    }
}
