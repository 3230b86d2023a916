//! The mount table as the kernel keeps it (/proc/PID/mountinfo), which asks
//! no filesystem anything: where each filesystem is, its device and type.
//!
//! Parsed here rather than with procfs's `MountInfo`: mount points are bytes
//! with octal escapes (`\040` for a space), which procfs keeps escaped, and a
//! line podtop cannot read is skipped, not an error for the whole table.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// Filesystems whose lookups can wait on a server podtop does not control.
pub fn is_unreliable_fstype(fstype: &str) -> bool {
    fstype == "fuse"
        || fstype == "fuseblk"
        || fstype.starts_with("fuse.")
        || fstype.starts_with("nfs")
        || matches!(fstype, "cifs" | "smb3" | "9p" | "ceph" | "glusterfs" | "afs" | "ncpfs" | "davfs" | "lustre" | "gfs2" | "ocfs2")
}

/// mountinfo escapes space, tab, newline and backslash as octal.
pub fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    /// The kernel's dev_t of the mounted filesystem, as (major << 20) | minor.
    pub dev: u32,
    pub point: PathBuf,
    pub fstype: String,
    /// The filesystem's own options (for a cgroup v1 hierarchy, its controllers).
    pub super_options: String,
}

/// The mount table as the kernel keeps it.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    pub(super) mounts: Vec<Mount>,
}

impl Mounts {
    /// The mount table of the machine podtop runs on, whatever host it reads:
    /// every path it opens (a fixture tree's too) lies on these filesystems.
    pub fn of_this_process() -> Mounts {
        Mounts::parse(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
    }

    pub fn parse(mountinfo: &str) -> Mounts {
        let mounts = mountinfo
            .lines()
            .filter_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let fields: Vec<&str> = left.split_whitespace().collect();
                let (major, minor) = fields.get(2)?.split_once(':')?;
                let dev = (major.parse::<u32>().ok()? << 20) | minor.parse::<u32>().ok()?;
                Some(Mount {
                    id: fields.first()?.parse().ok()?,
                    dev,
                    point: PathBuf::from(OsString::from_vec(unescape_mountinfo(fields.get(4)?))),
                    fstype: right.split_whitespace().next()?.to_string(),
                    super_options: right.split_whitespace().nth(2).unwrap_or_default().to_string(),
                })
            })
            .collect();
        Mounts { mounts }
    }

    pub fn all(&self) -> &[Mount] {
        &self.mounts
    }

    pub fn by_id(&self, id: u64) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.id == id)
    }

    /// The mount an absolute, link-free path is on: the last-mounted of the
    /// longest mount points it is under.
    pub fn containing(&self, path: &Path) -> Option<&Mount> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| path.starts_with(&m.point))
            .max_by_key(|(order, m)| (m.point.as_os_str().len(), *order))
            .map(|(_, m)| m)
    }

    pub(super) fn refuses(&self, path: &Path) -> Option<&Mount> {
        self.containing(path).filter(|m| is_unreliable_fstype(&m.fstype))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
25 22 0:22 / /run rw,nosuid - tmpfs tmpfs rw
40 22 0:40 / /mnt/remote rw - nfs4 server:/export rw
41 22 0:41 / /mnt/my\\040fuse rw - fuse.sshfs user@host: rw
42 41 0:42 / /mnt/my\\040fuse/inner rw - tmpfs tmpfs rw";

    #[test]
    fn mounts_from_mountinfo() {
        let mounts = Mounts::parse(MOUNTINFO);
        assert_eq!(mounts.containing(Path::new("/run/containerd/x")).unwrap().fstype, "tmpfs");
        assert_eq!(mounts.containing(Path::new("/running")).unwrap().fstype, "ext4", "a prefix only at a component boundary");
        assert_eq!(mounts.containing(Path::new("/mnt/my fuse/a")).unwrap().fstype, "fuse.sshfs");
        assert_eq!(mounts.containing(Path::new("/mnt/my fuse/inner/a")).unwrap().fstype, "tmpfs");
        assert_eq!(mounts.by_id(25).unwrap().dev, 22);
        assert_eq!(mounts.by_id(22).unwrap().dev, (254 << 20) | 1);
        assert!(mounts.refuses(Path::new("/mnt/remote/x")).is_some());
        assert!(mounts.refuses(Path::new("/run/x")).is_none());
    }
}
