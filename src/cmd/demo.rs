//! `podtop demo`: a small node to watch where there are no pods.
//!
//! Three pods (frontend -> backend -> db), each with its own network
//! namespace on a private bridge and kubelet-shaped cgroups, their containers
//! started by runc with the annotations a CRI runtime writes (so podtop names
//! them as it would on a real node). The frontend pod has a real haproxy
//! sidecar in its request path. Steady traffic, file I/O, UDP metrics and
//! periodic execs. The node is a scoped fixture: it is made, the normal live
//! path (TUI, or JSON with --json) watches it, and dropping it removes
//! everything, also after Ctrl-C, a signal or a crash of the demo's
//! containers; should the normal path get stuck, the shutdown watchdog
//! removes it by its fixed names, and so does the next demo.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{json, tui};
use crate::cli::{Cli, EventClass};
use crate::enrich::cgroup_path::QosClass;
use crate::sandbox::net::{self, Bridge};
use crate::sandbox::runc::{self, Container, Rootfs};
use crate::sandbox::{self, have, Pod, PodSpec};
use crate::shutdown::Shutdown;

const NAMESPACE: &str = "demo";
const BRIDGE_NETNS: &str = "podtop-demo-bridge";
const STATE_DIR: &str = "/run/podtop-demo";
const SUBNET: &str = "10.244.99";

/// One demo at a time: a second one would remove the first one's pods,
/// which share their fixed names. An advisory lock on a root-owned file.
const LOCK: &str = "/run/podtop-demo.lock";

/// A demo pod: name, UID, address in the subnet, containers (name, workload).
struct DemoPod {
    name: &'static str,
    uid: &'static str,
    ip: u8,
    containers: &'static [(&'static str, Workload)],
}

#[derive(Clone, Copy)]
enum Workload {
    Frontend,
    Backend,
    Db,
    Haproxy,
}

const FRONTEND: &str = r#"
import socket, subprocess, time
n = 0
while True:
    n += 1
    try:
        c = socket.create_connection(("127.0.0.1", 15001), timeout=2)
        c.sendall(b"GET /cart HTTP/1.0\r\n\r\n" if n % 3 == 0 else b"GET /checkout HTTP/1.0\r\n\r\n")
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
import itertools, socket, subprocess, threading, time
served = itertools.count(1)
def handle(c):
    c.recv(4096)
    status = b"503 Service Unavailable" if next(served) % 20 == 0 else b"200 OK"
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
    c.sendall(b"HTTP/1.0 " + status + b"\r\n\r\n" + b"x" * 1000)
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

const PODS: [DemoPod; 3] = [
    DemoPod { name: "frontend", uid: "0e5c2a10-1111-4c3e-9a51-d3e0f1a2b301", ip: 10, containers: &[("app", Workload::Frontend), ("proxy", Workload::Haproxy)] },
    DemoPod { name: "backend", uid: "0e5c2a10-2222-4c3e-9a51-d3e0f1a2b302", ip: 20, containers: &[("api", Workload::Backend)] },
    DemoPod { name: "db", uid: "0e5c2a10-3333-4c3e-9a51-d3e0f1a2b303", ip: 30, containers: &[("postgres", Workload::Db)] },
];

impl DemoPod {
    fn spec(&self) -> PodSpec {
        PodSpec { name: self.name.into(), namespace: NAMESPACE.into(), uid: self.uid.into(), qos: QosClass::Burstable }
    }

    fn netns(&self) -> String {
        format!("podtop-demo-{}", self.name)
    }

    /// Stable 64-hex ids, so a later run finds and removes what an earlier one left.
    fn container_id(&self, container: &str) -> String {
        let seed = format!("{}{}", self.uid.replace('-', ""), container.bytes().map(|b| format!("{b:02x}")).collect::<String>());
        format!("{seed:0<64}").chars().take(64).collect()
    }
}

fn args_of(workload: Workload) -> Vec<String> {
    let python = |script: &str| vec!["python3".to_string(), "-c".to_string(), script.to_string()];
    match workload {
        Workload::Haproxy => vec!["haproxy".into(), "-db".into(), "-f".into(), "/podtop/haproxy.cfg".into()],
        Workload::Frontend => python(FRONTEND),
        Workload::Backend => python(BACKEND),
        Workload::Db => python(DB),
    }
}

/// The demo node while it lives; dropping it removes everything it made.
pub struct DemoNode {
    // Fields drop in order: the pods (containers, cgroups, namespaces), the
    // bridge, then the lock, after everything else is gone.
    _pods: Vec<Pod>,
    _bridge: Bridge,
    _lock: Lock,
}

/// The demo's lock, held while the file is open; the file goes before the
/// lock is let go.
struct Lock {
    _held: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(STATE_DIR);
        let _ = fs::remove_file(LOCK);
    }
}

fn lock_the_demo() -> Result<Lock> {
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
    Ok(Lock { _held: file })
}

impl DemoNode {
    pub fn start() -> Result<DemoNode> {
        crate::probes::check_prerequisites(&crate::host::Host::live())?;
        for tool in ["runc", "haproxy", "python3", "ip", "nsenter"] {
            if !have(tool) {
                bail!("podtop demo needs {tool} (make deps installs it)");
            }
        }
        let lock = lock_the_demo()?;
        remove_leftovers();
        let bridge = Bridge::create(BRIDGE_NETNS)?;
        let mut pods = Vec::new();
        for demo in &PODS {
            let mut pod = Pod::create(demo.spec(), &demo.netns())?;
            bridge.attach(&pod.netns, &format!("v{}", demo.name), &format!("{SUBNET}.{}/24", demo.ip))?;
            for (name, workload) in demo.containers {
                let id = demo.container_id(name);
                let container = Container {
                    id: id.clone(),
                    name: (*name).into(),
                    args: args_of(*workload),
                    rootfs: Rootfs::Host,
                    bundle: PathBuf::from(STATE_DIR).join(&id),
                    files: vec![("haproxy.cfg".into(), HAPROXY_CFG.into())],
                };
                pod.run_container(&container)?;
            }
            pods.push(pod);
        }
        Ok(DemoNode { _pods: pods, _bridge: bridge, _lock: lock })
    }
}

/// Removes what a demo made, by its fixed names, whether or not this run
/// made it: an earlier demo killed with SIGKILL, or this one when the
/// shutdown watchdog ends it.
fn remove_leftovers() {
    for demo in &PODS {
        let spec = demo.spec();
        for (name, _) in demo.containers {
            let id = demo.container_id(name);
            runc::remove(&id);
            sandbox::cgroups::remove(&spec.container_cgroup(&id), "/kubepods.slice");
        }
        sandbox::cgroups::remove(&spec.cgroup(), "/kubepods.slice");
        net::delete_namespace(&demo.netns());
    }
    net::delete_namespace(BRIDGE_NETNS);
    let _ = fs::remove_dir_all(STATE_DIR);
}

/// The demo is there to show what podtop sees, requests too: unless
/// `--events` says otherwise, it watches http as well. (Plain `podtop`
/// leaves http out by default: each exchange costs about 7 µs more where
/// both ends are on the node, which a busy node pays for every request.)
pub fn watch_requests(cli: &mut Cli) {
    if cli.events_by_default() {
        cli.events.push(EventClass::Http);
    }
}

/// The demo node, then podtop on it (TUI, or JSON with --json), then nothing left.
pub fn run(cli: &Cli, shutdown: &Shutdown) -> Result<()> {
    let node = DemoNode::start()?;
    let emergency = shutdown.on_emergency(|| {
        remove_leftovers();
        let _ = fs::remove_file(LOCK);
    });
    let result = if tui::wanted(cli) { tui::run(cli, shutdown) } else { json::run(cli, shutdown) };
    drop(node);
    drop(emergency);
    result
}
