//! Real containers started by runc, in a sandbox pod: their bundles carry
//! the annotations containerd's CRI plugin writes (container, pod name,
//! namespace and UID), so podtop names them from the runtime's state as it
//! would on a real node.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::PodSpec;

/// What the container's root filesystem is made of.
#[derive(Debug, Clone)]
pub enum Rootfs {
    /// This machine's own /usr and /etc (and /bin, /lib... where they are
    /// not links into /usr), read-only: any program installed here runs.
    Host,
    /// busybox-static and its applets, nothing else.
    Busybox,
}

#[derive(Debug, Clone)]
pub struct Container {
    /// 64 hex characters, as the runtimes name containers.
    pub id: String,
    /// The container's name in its pod.
    pub name: String,
    pub args: Vec<String>,
    pub rootfs: Rootfs,
    /// The bundle's directory; also bound read-only at /podtop in the container.
    pub bundle: PathBuf,
    /// Files written into the bundle first (name, contents).
    pub files: Vec<(String, String)>,
}

fn ro_bind(source: &str, destination: &str) -> Value {
    json!({"destination": destination, "type": "bind", "source": source, "options": ["rbind", "ro"]})
}

fn make_rootfs(rootfs: &Path, kind: &Rootfs, hostname: &str, mounts: &mut Vec<Value>) -> Result<()> {
    fs::create_dir_all(rootfs).context("creating a container's rootfs")?;
    match kind {
        Rootfs::Host => {
            mounts.push(ro_bind("/usr", "/usr"));
            mounts.push(ro_bind("/etc", "/etc"));
            // Merged-/usr systems link /bin, /lib... into /usr; others need them bound.
            for top in ["bin", "sbin", "lib", "lib64"] {
                let host = Path::new("/").join(top);
                match fs::read_link(&host) {
                    Ok(target) => std::os::unix::fs::symlink(target, rootfs.join(top)).context("linking a rootfs")?,
                    Err(_) if host.is_dir() => mounts.push(ro_bind(&host.display().to_string(), &format!("/{top}"))),
                    Err(_) => {}
                }
            }
        }
        Rootfs::Busybox => {
            let bin = rootfs.join("bin");
            fs::create_dir_all(&bin)?;
            fs::copy("/bin/busybox", bin.join("busybox")).context("copying /bin/busybox (busybox-static)")?;
            for applet in ["sh", "cat", "true", "sleep", "test", "[", "echo", "ls"] {
                std::os::unix::fs::symlink("busybox", bin.join(applet))?;
            }
            fs::create_dir_all(rootfs.join("etc"))?;
            fs::write(rootfs.join("etc/hostname"), format!("{hostname}\n"))?;
        }
    }
    Ok(())
}

/// The OCI config of `container` in `pod`, in cgroup `cgroup` and network
/// namespace `netns` (a new one when None).
pub fn config(container: &Container, pod: &PodSpec, cgroup: &str, netns: Option<&str>) -> Result<Value> {
    let rootfs = container.bundle.join("rootfs");
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=16m"]}),
        ro_bind(&container.bundle.display().to_string(), "/podtop"),
    ];
    make_rootfs(&rootfs, &container.rootfs, &pod.name, &mut mounts)?;
    let network = match netns {
        Some(name) => json!({"type": "network", "path": format!("/run/netns/{name}")}),
        None => json!({"type": "network"}),
    };
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": container.args,
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE=1"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": {"path": rootfs.display().to_string(), "readonly": true},
        "hostname": pod.name,
        "mounts": mounts,
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": container.name,
            "io.kubernetes.cri.sandbox-name": pod.name,
            "io.kubernetes.cri.sandbox-namespace": pod.namespace,
            "io.kubernetes.cri.sandbox-uid": pod.uid
        },
        "linux": {
            "cgroupsPath": cgroup,
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, network]
        }
    }))
}

/// Writes the bundle and starts the container, detached.
pub fn run(container: &Container, pod: &PodSpec, cgroup: &str, netns: &str) -> Result<()> {
    run_in(container, pod, cgroup, Some(netns))
}

/// As `run`, with any cgroup path and, with None, a network namespace of its own.
pub fn run_in(container: &Container, pod: &PodSpec, cgroup: &str, netns: Option<&str>) -> Result<()> {
    fs::create_dir_all(&container.bundle).context("creating a container's bundle")?;
    for (name, contents) in &container.files {
        fs::write(container.bundle.join(name), contents)?;
    }
    let config = config(container, pod, cgroup, netns)?;
    fs::write(container.bundle.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
    // The container inherits runc's stdio: a pipe here would never close.
    let log_path = container.bundle.join("runc.log");
    let log = fs::File::create(&log_path).context("creating runc's log")?;
    let status = Command::new("runc")
        .args(["run", "-d", "--bundle", &container.bundle.display().to_string(), &container.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .context("running runc")?;
    if !status.success() {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        bail!("runc could not start {}/{}: {}", pod.name, container.name, log.trim());
    }
    Ok(())
}

/// Kills and deletes a runc container, whatever state it is in.
pub fn remove(id: &str) {
    let _ = Command::new("runc").args(["kill", id, "KILL"]).output();
    for _ in 0..50 {
        match Command::new("runc").args(["delete", "--force", id]).output() {
            Ok(out) if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("not exist") => break,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
