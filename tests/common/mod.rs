//! Real sandboxes for podtop's integration tests: kubelet-shaped cgroups,
//! network namespaces joined by veth, runc containers, and podtop itself
//! running as a child process. Everything is removed on drop, also when a
//! test fails half-way.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PODTOP: &str = env!("CARGO_BIN_EXE_podtop");

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "podtop's integration tests load eBPF programs: run them as root (make test)");
}

/// Runs a command and fails the test with its output if it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("spawning sh");
    assert!(out.status.success(), "`{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn cgroup2_mount() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(left.split_whitespace().nth(4).unwrap()))
        })
        .expect("a cgroup2 mount")
}

/// A random lowercase hex string.
pub fn hex(len: usize) -> String {
    podtop::sandbox::random_hex(len)
}

/// Removes a cgroup and the empty parents it was made under, in every hierarchy.
pub fn remove_cgroup_tree(relative: &str, stop_at: &str) {
    podtop::sandbox::cgroups::remove(relative, stop_at);
}

/// A pod the way kubelet and a CRI runtime lay it out: a pod cgroup with one
/// container cgroup, and its own network namespace (podtop's sandbox).
pub struct Pod {
    pub uid: String,
    pub container_id: String,
    pub netns: String,
    pub addr: Option<String>,
    pub addr6: Option<String>,
    /// Relative to the cgroup2 root.
    pub pod_cgroup: String,
    pub container_cgroup: String,
    sandbox: podtop::sandbox::Pod,
}

impl Pod {
    pub fn new(tag: &str) -> Pod {
        let uid = podtop::sandbox::random_uid();
        let spec = podtop::sandbox::PodSpec {
            name: format!("test-{tag}"),
            namespace: "test".into(),
            uid: uid.clone(),
            qos: podtop::enrich::cgroup_path::QosClass::BestEffort,
        };
        let netns = format!("podtop-{tag}-{}", hex(6));
        let mut sandbox = podtop::sandbox::Pod::create(spec, &netns).expect("a sandbox pod");
        let container_id = hex(64);
        let container_cgroup = sandbox.add_container_cgroup(&container_id).expect("a container cgroup");
        let pod_cgroup = sandbox.spec.cgroup();
        Pod { uid, container_id, netns, addr: None, addr6: None, pod_cgroup, container_cgroup, sandbox }
    }

    pub fn cgroup_id(&self) -> u64 {
        fs::metadata(cgroup2_mount().join(self.container_cgroup.trim_start_matches('/'))).unwrap().ino()
    }

    /// A command that runs `argv` inside the pod: its container cgroup and network namespace.
    pub fn command(&self, argv: &[&str]) -> Command {
        self.sandbox.command(&self.container_cgroup, argv)
    }

    /// Another container of the pod: (its id, its cgroup below the cgroup2 root).
    pub fn add_container(&mut self) -> (String, String) {
        let id = hex(64);
        let cgroup = self.sandbox.add_container_cgroup(&id).expect("a container cgroup");
        (id, cgroup)
    }

    /// A command that runs `argv` in the pod's container whose cgroup is `cgroup`.
    pub fn command_in(&self, cgroup: &str, argv: &[&str]) -> Command {
        self.sandbox.command(cgroup, argv)
    }

    /// Runs `argv` in the pod to completion; returns stdout.
    pub fn run(&self, argv: &[&str]) -> String {
        let out = self.command(argv).output().unwrap();
        assert!(out.status.success(), "{argv:?} in pod failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The path of the Python script tests/scripts/`name`, run as
/// `python3 PATH ARGS`: what the tests' servers and clients are.
pub fn script(name: &str) -> String {
    let path = format!("{}/tests/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    assert!(Path::new(&path).is_file(), "no script {path}");
    path
}

/// A copy of tests/scripts/`name` in `dir`, for a user who may not reach
/// the checkout (a home directory of mode 0700); its path.
pub fn script_in(dir: &OpenDir, name: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let copy = dir.0.join(name);
    fs::copy(script(name), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o644)).unwrap();
    copy.display().to_string()
}

/// Until something listens on `port` in the pod (haproxy starts slowly under emulation).
pub fn wait_for_listener(pod: &Pod, cgroup: &str, port: u16) {
    wait_until(Duration::from_secs(30), &format!("something listening on {port}"), || {
        let out = pod.command_in(cgroup, &["ss", "-Hltn", &format!("sport = :{port}")]).output().unwrap();
        !out.stdout.is_empty()
    });
}

/// Polls `done` until it holds; fails the test naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "no {what} within {timeout:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Joins two pods with a veth pair: `a` gets 10.244.N.1 and fd00:244:N::1, `b` .2 and ::2.
pub fn link(a: &mut Pod, b: &mut Pod, subnet: u8) {
    let (va, vb) = (format!("pt{}a", hex(6)), format!("pt{}b", hex(6)));
    let a_addrs = [format!("10.244.{subnet}.1/24"), format!("fd00:244:{subnet}::1/64")];
    let b_addrs = [format!("10.244.{subnet}.2/24"), format!("fd00:244:{subnet}::2/64")];
    podtop::sandbox::net::link(
        &a.netns,
        &va,
        &a_addrs.iter().map(String::as_str).collect::<Vec<_>>(),
        &b.netns,
        &vb,
        &b_addrs.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .expect("linking two pods");
    a.addr = Some(format!("10.244.{subnet}.1"));
    b.addr = Some(format!("10.244.{subnet}.2"));
    a.addr6 = Some(format!("fd00:244:{subnet}::1"));
    b.addr6 = Some(format!("fd00:244:{subnet}::2"));
}

/// What a child process writes on stderr, collected as it comes by a thread
/// of its own, for failure messages.
#[derive(Clone)]
pub struct Stderr {
    text: Arc<Mutex<String>>,
    ended: Arc<AtomicBool>,
}

impl Stderr {
    /// Takes `child`'s stderr, which must be piped.
    pub fn collect(child: &mut Child) -> Stderr {
        let stderr = Stderr { text: Arc::default(), ended: Arc::default() };
        let pipe = child.stderr.take().expect("stderr piped");
        let (text, ended) = (stderr.text.clone(), stderr.ended.clone());
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                text.lock().unwrap().push_str(&(line + "\n"));
            }
            ended.store(true, Ordering::Release);
        });
        stderr
    }

    /// What it wrote so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything it wrote, once its stderr has closed (waiting at most `timeout` for that).
    pub fn text_at_end(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !self.ended.load(Ordering::Acquire) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        self.text()
    }

    /// For a failure message: what podtop wrote, the rest of it too where it
    /// has just ended (its last lines say why).
    pub fn said(&self) -> String {
        podtop_said(&self.text_at_end(Duration::from_millis(500)))
    }
}

/// For a failure message: `stderr`, as podtop's.
pub fn podtop_said(stderr: &str) -> String {
    match stderr.trim_end() {
        "" => "podtop wrote nothing on stderr".to_string(),
        text => format!("podtop's stderr:\n{text}"),
    }
}

/// For a failure message: what podtop wrote on stderr before it ended.
pub fn said(out: &Output) -> String {
    podtop_said(&String::from_utf8_lossy(&out.stderr))
}

/// podtop started by a test in a way of its own (`serve`, the TUI's
/// `--dump-screen`, a pipeline): stdout as the command says, stderr collected
/// for failure messages. Killed and reaped on drop, also when the test fails.
pub struct Started {
    pub child: Child,
    stderr: Stderr,
}

impl Started {
    pub fn spawn(command: &mut Command) -> Started {
        let mut child = command.stderr(Stdio::piped()).spawn().expect("starting podtop");
        let stderr = Stderr::collect(&mut child);
        Started { child, stderr }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// All it wrote on stderr, once it has ended.
    pub fn stderr_at_end(&self) -> String {
        self.stderr.text_at_end(Duration::from_secs(2))
    }

    /// For a failure message: what it wrote on stderr.
    pub fn said(&self) -> String {
        self.stderr.said()
    }

    /// Waits up to `timeout` for its end: its exit status (None: it is still
    /// running), and its stdout where that is piped.
    pub fn finish(&mut self, timeout: Duration) -> (Option<ExitStatus>, String) {
        let stdout = self.child.stdout.take().map(|out| {
            thread::spawn(move || {
                let mut text = String::new();
                let _ = BufReader::new(out).read_to_string(&mut text);
                text
            })
        });
        let status = wait_timeout(&mut self.child, timeout);
        (status, stdout.map(|reader| reader.join().unwrap()).unwrap_or_default())
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// podtop --json as a child process, its records collected as they come.
pub struct Podtop {
    child: Option<Child>,
    records: Arc<Mutex<Vec<Value>>>,
    /// Records that the published JSON Schema does not accept.
    violations: Arc<Mutex<Vec<String>>>,
    stderr: Stderr,
    reader: Option<thread::JoinHandle<()>>,
}

impl Podtop {
    /// `podtop --json ARGS`, once its start record is out.
    pub fn start(args: &[&str]) -> Podtop {
        Podtop::start_within(args, Duration::from_secs(20))
    }

    /// `podtop --json ARGS`, once its start record is out, which must be
    /// within `timeout` (the demo makes its pods first).
    pub fn start_within(args: &[&str], timeout: Duration) -> Podtop {
        let mut command = Command::new(PODTOP);
        command.arg("--json").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        // podtop keeps a hang-up ignored when it starts with it ignored (nohup;
        // tests/hangs.rs), so a runner started under nohup would make every
        // SIGHUP here a no-op: the tests' podtop starts with the default.
        // SAFETY: signal() is async-signal-safe, fit for between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = command.spawn().expect("starting podtop");
        let records = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let (sink, bad) = (records.clone(), violations.clone());
        let reader = thread::spawn(move || {
            let schema = schema_validator();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
                if !errors.is_empty() {
                    bad.lock().unwrap().push(format!("{errors:?}: {line}"));
                }
                sink.lock().unwrap().push(value);
            }
        });
        let stderr = Stderr::collect(&mut child);
        let podtop = Podtop { child: Some(child), records, violations, stderr, reader: Some(reader) };
        podtop.wait_for(timeout, |r| r["type"] == "start");
        podtop
    }

    pub fn records(&self) -> Vec<Value> {
        self.records.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("podtop still running").id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// For a failure message: what podtop wrote on stderr.
    pub fn said(&self) -> String {
        self.stderr.said()
    }

    /// Waits until a record matches; fails the test with what podtop said if
    /// none does within `timeout`, or at once if its output ends first.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.records.lock().unwrap().iter().find(|r| pred(r)) {
                return found.clone();
            }
            if self.reader.as_ref().is_some_and(|r| r.is_finished()) {
                let records = self.records.lock().unwrap().len();
                panic!("podtop's output ended after {records} records, none of them the one awaited; {}", self.said());
            }
            if Instant::now() > deadline {
                panic!("no matching record within {timeout:?}; {}", self.said());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops podtop with `signal` and returns its exit status and every record.
    pub fn stop_with(&mut self, signal: i32) -> (ExitStatus, Vec<Value>) {
        self.stop_within(signal, Duration::from_secs(10))
    }

    /// Stops podtop with `signal`, which must end it within `timeout`; its
    /// exit status and every record.
    pub fn stop_within(&mut self, signal: i32, timeout: Duration) -> (ExitStatus, Vec<Value>) {
        let mut child = self.child.take().expect("podtop still running");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        // Where it is stuck, read before the timeout's kill: what a hang that
        // happens once in many runs leaves to go on.
        let pid = child.id();
        let stuck = thread::spawn(move || {
            thread::sleep(timeout.saturating_sub(Duration::from_secs(1)));
            where_it_waits(pid)
        });
        let Some(status) = wait_timeout(&mut child, timeout) else {
            panic!("podtop did not stop within {timeout:?} of signal {signal}; its threads: {}\n{}", stuck.join().unwrap(), self.said());
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let violations = self.violations.lock().unwrap();
        assert!(violations.is_empty(), "records the published schema does not accept: {violations:#?}");
        (status, self.records())
    }

    pub fn stop(&mut self) -> Vec<Value> {
        let (status, records) = self.stop_with(libc::SIGINT);
        assert!(status.success(), "podtop exited with {status}; {}", self.said());
        records
    }
}

impl Drop for Podtop {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A child process (a server, a daemon) killed and reaped when it goes out of
/// scope, also when the test fails half-way.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each thread of a process: its name, state, the kernel function it sleeps
/// in and its kernel stack (root reads it).
pub fn where_it_waits(pid: u32) -> String {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return format!("{pid} is gone") };
    tasks
        .flatten()
        .map(|task| {
            let read = |file: &str| fs::read_to_string(task.path().join(file)).unwrap_or_default();
            let stat = read("stat");
            let state = stat.rsplit_once(") ").map_or("?", |(_, rest)| &rest[..1]).to_string();
            format!("\n  {} {} {state} in {}:\n{}", task.file_name().to_string_lossy(), read("comm").trim(), read("wchan"), read("stack"))
        })
        .collect()
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The published JSON Schema of podtop's records, ready to check them.
pub fn schema_validator() -> jsonschema::Validator {
    let text = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/podtop-records.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("the published schema compiles")
}

/// Records of one type from one process.
pub fn of_type<'a>(records: &'a [Value], kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
    let kind = kind.to_string();
    records.iter().filter(move |r| r["type"] == kind.as_str())
}

/// The names of podtop's BPF programs still loaded in the kernel, once the
/// kernel's deferred freeing of released programs has had up to 3 s to run.
pub fn loaded_podtop_programs() -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let loaded = podtop_programs_now();
        if loaded.is_empty() || Instant::now() > deadline {
            return loaded;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The names of podtop's BPF programs loaded right now.
pub fn podtop_programs_now() -> Vec<String> {
    let out = Command::new("bpftool").args(["prog", "show", "--json"]).output().expect("bpftool");
    let progs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    progs
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["name"].as_str())
                .filter(|n| n.starts_with("on_"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn path_exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// A directory any user can read and enter, removed on drop.
pub struct OpenDir(pub PathBuf);

impl OpenDir {
    pub fn new(tag: &str) -> OpenDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("podtop-{tag}-{}", hex(6)));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        OpenDir(dir)
    }
}

impl Drop for OpenDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a copy of podtop (one any user can execute, wherever the checkout
/// lives) as nobody, without any capability.
pub fn podtop_as_nobody(dir: &OpenDir, args: &[&str]) -> std::process::Output {
    let binary = dir.0.join("podtop");
    if !binary.exists() {
        fs::copy(PODTOP, &binary).unwrap();
    }
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(&binary)
        .args(args)
        .output()
        .unwrap()
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from 127.0.0.1:`port` over HTTP/1.0: (status code, body).
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    c.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}
