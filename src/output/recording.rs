//! The `--record` file: podtop runs as root, and the path is the user's.
//!
//! The file is created new, mode 0600 (a recording holds every command line
//! on the node), and never through a symbolic link: a link planted at the
//! path (in /tmp, say) makes the open fail instead of redirecting root's
//! write. An existing file is refused unless `--force`, and even then only a
//! regular file with no other hard link is overwritten.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

pub fn create(path: &Path, force: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    // O_NONBLOCK: opening a FIFO planted at the path must not wait for a reader.
    options.write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    if force {
        options.create(true);
    } else {
        options.create_new(true);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            bail!("--record: {} exists; choose another path, or add --force to overwrite it", path.display())
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            bail!("--record: {} is a symbolic link; podtop does not write through links", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("--record: creating {}", path.display())),
    };
    let meta = file.metadata().with_context(|| format!("--record: {}", path.display()))?;
    if !meta.is_file() || meta.nlink() > 1 {
        bail!("--record: {} is not a plain file of its own (a device, a pipe or a hard link); refusing to write it", path.display());
    }
    // Regular files ignore O_NONBLOCK; clear it anyway, writes may block on a slow disk
    // (the recording is written by a thread of its own).
    clear_nonblocking(&file)?;
    // An existing file keeps its mode when opened: make it private too.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("--record: {}", path.display()))?;
    file.set_len(0).with_context(|| format!("--record: truncating {}", path.display()))?;
    Ok(file)
}

fn clear_nonblocking(file: &File) -> Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(file).context("--record: reading the file's flags")?;
    fcntl_setfl(file, flags - OFlags::NONBLOCK).context("--record: setting the file's flags")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("podtop-rec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn new_private_never_through_a_link_and_never_over_a_file_unasked() {
        let dir = temp("rules");
        let path = dir.join("rec.json");
        let file = create(&path, false).unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        drop(file);
        assert!(create(&path, false).unwrap_err().to_string().contains("--force"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = create(&path, true).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 0, "overwritten with --force");
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);

        let target = dir.join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for force in [false, true] {
            let e = create(&link, force).unwrap_err().to_string();
            assert!(e.contains("symbolic link") || e.contains("exists"), "{e}");
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");

        let hard = dir.join("hard.json");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(create(&hard, true).unwrap_err().to_string().contains("hard link"));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
