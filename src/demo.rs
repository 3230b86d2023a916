//! `podtop demo`: a small node to watch where there are no pods.
//!
//! Three pods (frontend -> backend -> db), each with its own network
//! namespace on a private bridge and kubelet-shaped cgroups, their containers
//! started by runc with the annotations a CRI runtime writes (so podtop names
//! them as it would on a real node). The frontend pod has a real haproxy
//! sidecar in its request path. Steady traffic, file I/O, UDP metrics and
//! periodic execs. Everything is removed on exit, also after Ctrl-C, a signal
//! or a crash of the demo's containers; leftovers of an earlier run are
//! removed before starting.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cli::Cli;
use crate::commands::{collect_options, live_tui};
use crate::shutdown::Shutdown;

const NAMESPACE: &str = "demo";
const BRIDGE_NETNS: &str = "podtop-demo-bridge";
const STATE_DIR: &str = "/run/podtop-demo";
const SUBNET: &str = "10.244.99";

struct PodSpec {
    name: &'static str,
    uid: &'static str,
    ip: u8,
    containers: &'static [(&'static str, &'static str)],
}

const FRONTEND: &str = r#"
import socket, subprocess, time
n = 0
while True:
    n += 1
    try:
        c = socket.create_connection(("127.0.0.1", 15001), timeout=2)
        c.sendall(b"GET /checkout HTTP/1.0\r\n\r\n")
        while c.recv(65536): pass
        c.close()
    except OSError:
        time.sleep(0.5)
    if n % 5 == 0:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"frontend.requests:5|c", ("10.244.99.30", 8125))
    if n % 10 == 0:
        with open("/tmp/frontend.log", "a") as f: f.write("served %d\n" % n)
    if n % 25 == 0:
        subprocess.run(["/bin/date"], stdout=subprocess.DEVNULL)
    time.sleep(0.2)
"#;

const BACKEND: &str = r#"
import socket, subprocess, threading, time
def handle(c):
    c.recv(4096)
    with open("/etc/services", "rb") as f: f.read()
    with open("/tmp/backend.log", "a") as f: f.write("request\n")
    try:
        d = socket.create_connection(("10.244.99.30", 9000), timeout=2)
        d.sendall(b"SELECT * FROM carts" + b" " * 180)
        got = 0
        while got < 2048:
            b = d.recv(65536)
            if not b: break
            got += len(b)
        d.close()
    except OSError:
        pass
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 1000)
    c.close()
def execs():
    while True:
        time.sleep(3)
        subprocess.run(["/bin/sh", "-c", "true"])
threading.Thread(target=execs, daemon=True).start()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

const DB: &str = r#"
import socket, threading
def metrics():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8125))
    while True: u.recv(2048)
def handle(c):
    c.recv(4096)
    with open("/tmp/db.data", "ab") as f: f.write(b"r" * 100)
    with open("/tmp/db.data", "rb") as f: f.read(2048)
    c.sendall(b"d" * 2048)
    c.close()
threading.Thread(target=metrics, daemon=True).start()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

const HAPROXY_CFG: &str = "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\nfrontend outbound\n  bind 127.0.0.1:15001\n  default_backend backend\nbackend backend\n  server backend 10.244.99.20:8080\n";

const PODS: [PodSpec; 3] = [
    PodSpec { name: "frontend", uid: "0e5c2a10-1111-4c3e-9a51-d3e0f1a2b301", ip: 10, containers: &[("app", "frontend"), ("proxy", "haproxy")] },
    PodSpec { name: "backend", uid: "0e5c2a10-2222-4c3e-9a51-d3e0f1a2b302", ip: 20, containers: &[("api", "backend")] },
    PodSpec { name: "db", uid: "0e5c2a10-3333-4c3e-9a51-d3e0f1a2b303", ip: 30, containers: &[("postgres", "db")] },
];

fn run_quiet(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn container_id(pod: &PodSpec, container: &str) -> String {
    // Stable 64-hex ids, so a later run finds and removes what an earlier one left.
    let seed = format!("{}{}", pod.uid.replace('-', ""), container.bytes().map(|b| format!("{b:02x}")).collect::<String>());
    format!("{seed:0<64}").chars().take(64).collect()
}

fn cgroup_path(pod: &PodSpec, id: &str) -> String {
    format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{id}.scope",
        pod.uid.replace('-', "_")
    )
}

/// The demo node; dropping it removes everything it made.
pub struct DemoNode {
    containers: Vec<(String, String)>, // (id, cgroup path)
    // Held while the demo runs; dropped last, after the pods are gone.
    _lock: File,
}

/// One demo at a time: a second one would remove the first one's pods,
/// which share their fixed names. An advisory lock on a root-owned file.
const LOCK: &str = "/run/podtop-demo.lock";

fn lock_the_demo() -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(LOCK)
        .with_context(|| format!("opening the demo's lock {LOCK}"))?;
    if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let holder = fs::read_to_string(LOCK).unwrap_or_default();
            let holder = holder.trim();
            bail!("another podtop demo is running{}; one demo at a time", if holder.is_empty() { String::new() } else { format!(" (pid {holder})") });
        }
        return Err(e).context("locking the demo");
    }
    file.set_len(0)?;
    (&file).write_all(format!("{}\n", std::process::id()).as_bytes())?;
    Ok(file)
}

impl DemoNode {
    pub fn start() -> Result<DemoNode> {
        crate::probes::check_prerequisites()?;
        for tool in ["runc", "haproxy", "python3", "ip"] {
            if !have(tool) {
                bail!("podtop demo needs {tool} (make deps installs it)");
            }
        }
        let lock = lock_the_demo()?;
        DemoNode::remove_leftovers();
        let mut node = DemoNode { containers: Vec::new(), _lock: lock };
        node.build_network()?;
        for pod in &PODS {
            for (container, program) in pod.containers {
                node.start_container(pod, container, program)?;
            }
        }
        Ok(node)
    }

    fn build_network(&mut self) -> Result<()> {
        run_quiet("ip", &["netns", "add", BRIDGE_NETNS])?;
        run_quiet("ip", &["-n", BRIDGE_NETNS, "link", "add", "br0", "type", "bridge"])?;
        run_quiet("ip", &["-n", BRIDGE_NETNS, "link", "set", "br0", "up"])?;
        for pod in &PODS {
            let netns = format!("podtop-demo-{}", pod.name);
            let host_side = format!("v{}", pod.name);
            let address = format!("{SUBNET}.{}/24", pod.ip);
            run_quiet("ip", &["netns", "add", &netns])?;
            run_quiet("ip", &["-n", &netns, "link", "set", "lo", "up"])?;
            run_quiet("ip", &["-n", &netns, "link", "add", "eth0", "type", "veth", "peer", "name", &host_side, "netns", BRIDGE_NETNS])?;
            run_quiet("ip", &["-n", &netns, "addr", "add", &address, "dev", "eth0"])?;
            run_quiet("ip", &["-n", &netns, "link", "set", "eth0", "up"])?;
            run_quiet("ip", &["-n", BRIDGE_NETNS, "link", "set", &host_side, "master", "br0", "up"])?;
        }
        Ok(())
    }

    fn bundle_config(pod: &PodSpec, container: &str, program: &str, rootfs: &Path, bundle: &Path) -> Result<Value> {
        let args: Vec<String> = match program {
            "haproxy" => vec!["haproxy".into(), "-db".into(), "-f".into(), "/podtop/haproxy.cfg".into()],
            "frontend" => vec!["python3".into(), "-c".into(), FRONTEND.into()],
            "backend" => vec!["python3".into(), "-c".into(), BACKEND.into()],
            _ => vec!["python3".into(), "-c".into(), DB.into()],
        };
        let ro_bind = |source: &str, destination: &str| {
            json!({"destination": destination, "type": "bind", "source": source, "options": ["rbind", "ro"]})
        };
        let mut mounts = vec![
            json!({"destination": "/proc", "type": "proc", "source": "proc"}),
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
            json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=16m"]}),
            ro_bind("/usr", "/usr"),
            ro_bind("/etc", "/etc"),
            ro_bind(&bundle.display().to_string(), "/podtop"),
        ];
        // Merged-/usr systems link /bin, /lib... into /usr; others need them bound.
        for top in ["bin", "sbin", "lib", "lib64"] {
            let host = Path::new("/").join(top);
            match fs::read_link(&host) {
                Ok(target) => std::os::unix::fs::symlink(target, rootfs.join(top)).context("linking the demo's rootfs")?,
                Err(_) if host.is_dir() => mounts.push(ro_bind(&host.display().to_string(), &format!("/{top}"))),
                Err(_) => {}
            }
        }
        Ok(json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONDONTWRITEBYTECODE=1"],
                "cwd": "/",
                "noNewPrivileges": true
            },
            "root": {"path": rootfs.display().to_string(), "readonly": true},
            "hostname": pod.name,
            "mounts": mounts,
            "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": container,
                "io.kubernetes.cri.sandbox-name": pod.name,
                "io.kubernetes.cri.sandbox-namespace": NAMESPACE,
                "io.kubernetes.cri.sandbox-uid": pod.uid
            },
            "linux": {
                "cgroupsPath": cgroup_path(pod, &container_id(pod, container)),
                "namespaces": [
                    {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                    {"type": "network", "path": format!("/run/netns/podtop-demo-{}", pod.name)}
                ]
            }
        }))
    }

    fn start_container(&mut self, pod: &PodSpec, container: &str, program: &str) -> Result<()> {
        let id = container_id(pod, container);
        let bundle = PathBuf::from(STATE_DIR).join(&id);
        let rootfs = bundle.join("rootfs");
        fs::create_dir_all(&rootfs).context("creating the demo's bundles")?;
        fs::write(bundle.join("haproxy.cfg"), HAPROXY_CFG)?;
        let config = Self::bundle_config(pod, container, program, &rootfs, &bundle)?;
        fs::write(bundle.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
        self.containers.push((id.clone(), cgroup_path(pod, &id)));
        // The container inherits runc's stdio: a pipe here would never close.
        let log_path = bundle.join("runc.log");
        let log = fs::File::create(&log_path).context("creating the demo's runc log")?;
        let status = Command::new("runc")
            .args(["run", "-d", "--bundle", &bundle.display().to_string(), &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .context("running runc")?;
        if !status.success() {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            bail!("runc could not start {}/{container}: {}", pod.name, log.trim());
        }
        Ok(())
    }

    /// Removes what a demo made, by its fixed names, whether or not this run made it.
    fn remove_leftovers() {
        for pod in &PODS {
            for (container, _) in pod.containers {
                remove_container(&container_id(pod, container), &cgroup_path(pod, &container_id(pod, container)));
            }
            let _ = Command::new("ip").args(["netns", "del", &format!("podtop-demo-{}", pod.name)]).output();
        }
        let _ = Command::new("ip").args(["netns", "del", BRIDGE_NETNS]).output();
        let _ = fs::remove_dir_all(STATE_DIR);
    }
}

fn remove_container(id: &str, cgroup: &str) {
    let _ = Command::new("runc").args(["kill", id, "KILL"]).output();
    for _ in 0..50 {
        match Command::new("runc").args(["delete", "--force", id]).output() {
            Ok(out) if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("not exist") => break,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    remove_cgroup_and_parents(cgroup);
}

/// The container's cgroup and its emptied parents up to kubepods, in every
/// hierarchy (runc also makes them in the v1 controllers of a hybrid layout).
fn remove_cgroup_and_parents(relative: &str) {
    let mut roots: Vec<PathBuf> = crate::enrich::cgroups::find_cgroup2_mount().into_iter().collect();
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(entries.flatten().map(|e| e.path()).filter(|p| p.join("kubepods.slice").is_dir()));
    }
    for root in roots {
        let mut path = root.join(relative.trim_start_matches('/'));
        while path.starts_with(root.join("kubepods.slice")) {
            let _ = fs::remove_dir(&path);
            if !path.pop() {
                break;
            }
        }
    }
}

impl Drop for DemoNode {
    fn drop(&mut self) {
        for (id, cgroup) in self.containers.drain(..).rev() {
            remove_container(&id, &cgroup);
        }
        DemoNode::remove_leftovers();
        // Still locked here: the file goes before the lock is let go.
        let _ = fs::remove_file(LOCK);
    }
}

/// Starts the demo node, then podtop on it (TUI, or JSON with --json), then removes it all.
pub fn run(cli: &Cli, tui: bool, shutdown: &Shutdown) -> Result<()> {
    let node = DemoNode::start()?;
    // Should the normal path get stuck, the watchdog removes the pods by their fixed names.
    let emergency = shutdown.on_emergency(DemoNode::remove_leftovers);
    let result = if tui { live_tui(cli, shutdown) } else { crate::stream::run(collect_options(cli, false), shutdown) };
    drop(node);
    drop(emergency);
    result
}
