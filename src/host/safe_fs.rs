//! Reading files podtop does not own (container runtimes' state, bundles)
//! as root, without following a link it did not expect and without touching
//! a filesystem that can stop answering.
//!
//! A lookup on a FUSE or network filesystem whose server stopped answering
//! waits for it, and once the request was taken, not even SIGKILL ends the
//! wait: the process could not exit, and its BPF programs would stay
//! attached. So no path is looked up on such a filesystem: the mounts are
//! known from /proc/self/mountinfo (the kernel's own table, which asks no
//! filesystem), a path is resolved one component at a time, refusing any step
//! onto such a mount, and files below a runtime's directory are opened with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`, which
//! cannot leave that directory's filesystem nor follow a link.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};

use super::mounts::{Mount, Mounts};

fn refused(path: &Path, mount: &Mount) -> io::Error {
    io::Error::other(format!(
        "{} is on a {} filesystem ({}); podtop does not look paths up there",
        path.display(),
        mount.fstype,
        mount.point.display()
    ))
}

/// `path`, absolute, made free of `.`, `..` and symbolic links one component
/// at a time, never stepping onto a mount that can stop answering.
pub fn resolve(path: &Path, mounts: &Mounts) -> io::Result<PathBuf> {
    if !path.is_absolute() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path"));
    }
    let mut resolved = PathBuf::from("/");
    let mut pending: VecDeque<OsString> = path.components().skip(1).map(|c| c.as_os_str().to_owned()).collect();
    let mut links = 0;
    while let Some(component) = pending.pop_front() {
        match Path::new(&component).components().next() {
            Some(Component::CurDir) | None => continue,
            Some(Component::ParentDir) => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&component);
        if let Some(mount) = mounts.refuses(&candidate) {
            return Err(refused(&candidate, mount));
        }
        let meta = std::fs::symlink_metadata(&candidate)?;
        if !meta.file_type().is_symlink() {
            resolved = candidate;
            continue;
        }
        links += 1;
        if links > 40 {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&candidate)?;
        if target.is_absolute() {
            resolved = PathBuf::from("/");
        }
        for c in target.components().rev() {
            if c != Component::RootDir {
                pending.push_front(c.as_os_str().to_owned());
            }
        }
    }
    Ok(resolved)
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_XDEV).union(ResolveFlags::NO_MAGICLINKS);

/// Opens a directory podtop trusts by name (a runtime's state directory):
/// resolved as above, then opened without following a last link.
pub fn open_dir(path: &Path, mounts: &Mounts) -> io::Result<OwnedFd> {
    let resolved = resolve(path, mounts)?;
    Ok(openat2(CWD, &resolved, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty(), ResolveFlags::NO_SYMLINKS)?)
}

/// A directory below `dir`, never through a link or into another mount.
pub fn open_dir_beneath(dir: impl AsFd, relative: &str) -> io::Result<OwnedFd> {
    Ok(openat2(dir, relative, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), BENEATH)?)
}

/// The whole of a regular file below `dir`, never through a link or into
/// another mount, and at most `limit` bytes (larger is an error).
pub fn read_beneath(dir: impl AsFd, relative: &str, limit: u64) -> io::Result<Vec<u8>> {
    // O_NONBLOCK: a FIFO planted at the path must not hold the open.
    let fd = openat2(dir, relative, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty(), BENEATH)?;
    let file = File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file"));
    }
    if meta.len() > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "larger than podtop reads"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "larger than podtop reads"));
    }
    Ok(bytes)
}

/// The names in a directory below `dir` (or `dir` itself for ""), at most `limit`.
pub fn list_beneath(dir: impl AsFd, relative: &str, limit: usize) -> io::Result<Vec<OsString>> {
    let sub = if relative.is_empty() { dir.as_fd().try_clone_to_owned()? } else { open_dir_beneath(dir, relative)? };
    let entries = rustix::fs::Dir::read_from(&sub)?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|e| OsString::from(std::ffi::OsStr::from_bytes(e.file_name().to_bytes())))
        .filter(|name| name != "." && name != "..")
        .take(limit)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_links_but_refuses_a_step_onto_an_unreliable_mount() {
        let dir = std::env::temp_dir().join(format!("podtop-safefs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real/state")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
        std::os::unix::fs::symlink("../real/state", dir.join("real/rel")).unwrap();
        let mounts = Mounts::of_this_process();
        let canonical = std::fs::canonicalize(dir.join("real/state")).unwrap();
        assert_eq!(resolve(&dir.join("link/state"), &mounts).unwrap(), canonical);
        assert_eq!(resolve(&dir.join("real/rel/../state/."), &mounts).unwrap(), canonical);

        // The same tree, as if the directory were a FUSE mount: nothing below it is looked up.
        let mut pretend = mounts.clone();
        pretend.mounts.push(Mount { id: 9999, dev: 0, point: canonical.clone(), fstype: "fuse.stalled".into(), super_options: String::new() });
        let e = resolve(&dir.join("link/state/x"), &pretend).unwrap_err();
        assert!(e.to_string().contains("fuse.stalled"), "{e}");

        // Beneath a directory: no link is followed, and the file must be regular.
        std::fs::write(dir.join("real/state/config.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("real/state/evil.json")).unwrap();
        let root = open_dir(&dir.join("real"), &mounts).unwrap();
        assert_eq!(read_beneath(&root, "state/config.json", 100).unwrap(), b"{}");
        assert!(read_beneath(&root, "state/evil.json", 100).is_err());
        assert!(read_beneath(&root, "rel/config.json", 100).is_err(), "no link on the way either");
        assert!(read_beneath(&root, "../real/state/config.json", 100).is_err(), "never above the directory");
        assert!(read_beneath(&root, "state/config.json", 1).is_err(), "bounded");
        assert_eq!(list_beneath(&root, "state", 10).unwrap().len(), 2);
        rustix::fs::mkfifoat(&root, "state/fifo.json", Mode::RUSR | Mode::WUSR).unwrap();
        assert!(read_beneath(&root, "state/fifo.json", 100).is_err(), "a FIFO does not hold the open");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
