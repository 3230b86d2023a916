//! `make soak`: podtop's memory under container churn, for minutes.
//!
//! Two podtops watch the same load, both with `--events
//! exec,file,net,http,dns`: one streaming `--json` to /dev/null and one in
//! TUI mode (`--dump-screen`, the model without a terminal). The load makes
//! and removes kubelet-shaped pod cgroups at a steady pace (each with a process
//! that execs, opens files and talks TCP and UDP), beside a steady flood of
//! opens and steady L7 traffic between two pods: HTTP/1.1 requests (keep-alive
//! connections of 50 requests each, so connections come and go too) and DNS
//! lookups of a fixed set of names and of names never asked before (NXDOMAIN),
//! a few hundred a second. Every 30 s a line: cgroups churned, requests made,
//! events seen and lost, and each podtop's resident memory. At the end, the
//! slope of each curve after warm-up: flat means bounded.
//!
//! SOAK_PODTOP=path/to/podtop watches that build rather than target/release's;
//! SOAK_COMPARE=path/to/podtop watches another build the same way under the
//! same load, beside this one (before and after a change, in one run).
//! SOAK_SECONDS sets the length (default 360), SOAK_WARMUP the warm-up left
//! out of the slope (default: the first half), SOAK_CHURN_RATE the pods a
//! second (default 4). Ctrl-C ends it early, cleaning up as at its end. Root.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use podtop::enrich::cgroup_path::QosClass;
use podtop::sandbox::{self, Pod, PodSpec};

const PODTOP: &str = env!("CARGO_BIN_EXE_podtop");
const SAMPLE_EVERY: Duration = Duration::from_secs(30);

fn cgroup2_mount() -> String {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2").then(|| left.split_whitespace().nth(4).unwrap().to_string())
        })
        .expect("a cgroup2 mount")
}

/// A field of /proc/PID/status, in KiB (VmRSS, RssAnon, ...).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The resident KiB of BPF maps mapped into `pid` (the ring buffer's double
/// mapping, mostly): made resident at start, so the rest is what can grow.
fn bpf_maps_kib(pid: u32) -> u64 {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut in_bpf_map = false;
    let mut kib = 0;
    for line in smaps.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            if in_bpf_map {
                kib += rss.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        } else if line.split_whitespace().next().is_some_and(|f| f.contains('-') && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-')) {
            in_bpf_map = line.ends_with("anon_inode:bpf-map");
        }
    }
    kib
}

/// What one pod's process does in its short life.
const WORK: &str = r#"
import os, socket, subprocess
for p in ("/etc/hostname", "/etc/services", "/etc/passwd"):
    with open(p, "rb") as f: f.read()
with open("/tmp/podtop-soak-%d" % os.getpid(), "wb") as f: f.write(b"x" * 4096)
os.unlink("/tmp/podtop-soak-%d" % os.getpid())
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); a, _ = l.accept(); c.sendall(b"q" * 1000); a.recv(2000); c.close(); a.close(); l.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"m" * 100, ("127.0.0.1", 9)); u.close()
subprocess.run(["/bin/true"])
"#;

/// Makes, uses and removes pod cgroups until `stop`; counts them.
/// At `per_second` pods a second at most: a steady pace, so that what podtop
/// holds for the present stays the same and only what it keeps of the past
/// can grow. A pod that took longer (the machine busy) is not made up for
/// with a burst after.
fn churn(stop: Arc<AtomicBool>, churned: Arc<AtomicU64>, per_second: f64) {
    let root = cgroup2_mount();
    let parent = format!("{root}/kubepods.slice/kubepods-besteffort.slice");
    let mut n = 0u64;
    let each = Duration::from_secs_f64(1.0 / per_second);
    let mut began = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(each.saturating_sub(began.elapsed()));
        began = Instant::now();
        n += 1;
        let pod = format!("{parent}/kubepods-besteffort-pod50a50a{n:08x}_0000_0000_0000_000000000000.slice");
        let container = format!("{pod}/cri-containerd-{:064x}.scope", 0x50a5u128 << 64 | u128::from(n));
        fs::create_dir_all(&container).unwrap();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("echo $$ > {container}/cgroup.procs && exec python3 -c '{WORK}'"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = status;
        for dir in [&container, &pod] {
            for _ in 0..50 {
                if fs::remove_dir(dir).is_ok() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        churned.fetch_add(1, Ordering::Relaxed);
    }
    let _ = fs::remove_dir(&parent);
    let _ = fs::remove_dir(format!("{root}/kubepods.slice"));
}

const L7_SERVER_POD: &str = "podtop-soak-server";
const L7_CLIENT_POD: &str = "podtop-soak-client";
const L7_SERVER_ADDR: &str = "10.244.251.2";

/// An HTTP/1.1 keep-alive server on :8080 and a DNS responder on :53 (A
/// 10.244.251.2 for any name, NXDOMAIN for names under nx.soak.test).
const L7_SERVER: &str = r#"
import http.server, socket, socketserver, sys, threading
addr = sys.argv[1]
def dns():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, 53))
    while True:
        q, peer = u.recvfrom(512)
        i = 12
        while q[i]: i += q[i] + 1
        question = q[12:i + 5]
        nx = b"\x02nx\x04soak" in question
        flags = b"\x81\x83" if nx else b"\x81\x80"
        answer = b"" if nx else b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04" + socket.inet_aton(addr)
        u.sendto(q[:2] + flags + b"\x00\x01" + (b"\x00\x00" if nx else b"\x00\x01") + b"\x00\x00\x00\x00" + question + answer, peer)
threading.Thread(target=dns, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body are two writes: with Nagle's algorithm each response
    # waits out the client's delayed ACK (40 ms), 20 requests a second.
    disable_nagle_algorithm = True
    def do_GET(self):
        body = b"x" * (100 + len(self.path))
        self.send_response(404 if self.path.endswith("/7") else 200)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
S((addr, 8080), H).serve_forever()
"#;

/// Requests at about `rate` a second, each after a lookup; prints the count every second.
const L7_CLIENT: &str = r#"
import http.client, os, socket, struct, sys, time
addr, rate = sys.argv[1], float(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1)
def lookup(name):
    q = struct.pack(">HHHHHH", os.getpid() & 0xffff, 0x100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    u.sendto(q, (addr, 53))
    try: u.recvfrom(512)
    except socket.timeout: pass
n, c, last = 0, None, time.time()
while True:
    if c is None or n % 50 == 0:
        if c: c.close()
        c = http.client.HTTPConnection(addr, 8080, timeout=5)
    lookup("api%d.soak.test" % (n % 20) if n % 10 else "q%d.nx.soak.test" % n)
    c.request("GET", "/items/%d" % (n % 30)); r = c.getresponse(); r.read()
    n += 1
    if time.time() - last >= 1: print(n, flush=True); last = time.time()
    time.sleep(1 / rate)
"#;

/// Two pods with steady HTTP and DNS between them, removed on drop.
struct SteadyL7 {
    _pods: (Pod, Pod),
    children: Vec<Child>,
    requests: Arc<AtomicU64>,
}

impl SteadyL7 {
    fn start(rate: u32) -> SteadyL7 {
        let pod = |name: &str, uid: &str| {
            sandbox::net::delete_namespace(name);
            Pod::create(PodSpec { name: name.into(), namespace: "soak".into(), uid: uid.into(), qos: QosClass::BestEffort }, name).expect("a soak pod")
        };
        let mut server = pod(L7_SERVER_POD, "50a50a50-0000-0000-0000-00000000000b");
        let mut client = pod(L7_CLIENT_POD, "50a50a50-0000-0000-0000-00000000000a");
        sandbox::net::link(L7_CLIENT_POD, "psc", &["10.244.251.1/24"], L7_SERVER_POD, "pss", &[&format!("{L7_SERVER_ADDR}/24")]).expect("linking the soak pods");
        let server_cgroup = server.add_container_cgroup(&"5e".repeat(32)).unwrap();
        let client_cgroup = client.add_container_cgroup(&"c1".repeat(32)).unwrap();
        let listening = server.command(&server_cgroup, &["python3", "-c", L7_SERVER, L7_SERVER_ADDR]).stderr(Stdio::null()).spawn().unwrap();
        thread::sleep(Duration::from_secs(1));
        let mut load = client
            .command(&client_cgroup, &["python3", "-c", L7_CLIENT, L7_SERVER_ADDR, &rate.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let (stdout, counted) = (load.stdout.take().unwrap(), requests.clone());
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                counted.store(line.trim().parse().unwrap_or(0), Ordering::Relaxed);
            }
        });
        SteadyL7 { _pods: (server, client), children: vec![listening, load], requests }
    }
}

impl Drop for SteadyL7 {
    fn drop(&mut self) {
        // The processes first: a cgroup with processes cannot be removed.
        for mut c in self.children.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The last `stats` record podtop wrote: (seen, lost), and its tables
/// (name, entries, capacity) for the end's report.
fn watch_stats(child: &mut Child, seen: Arc<AtomicU64>, lost: Arc<AtomicU64>) -> thread::JoinHandle<Vec<(String, u64, u64)>> {
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        let mut tables = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("{\"type\":\"stats\"") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                seen.store(v["seen_total"].as_u64().unwrap_or(0), Ordering::Relaxed);
                lost.store(v["lost_total"].as_u64().unwrap_or(0), Ordering::Relaxed);
                if let Some(t) = v["tables"].as_object() {
                    tables = t.iter().map(|(name, t)| (name.clone(), t["entries"].as_u64().unwrap_or(0), t["capacity"].as_u64().unwrap_or(0))).collect();
                }
            }
        }
        tables
    })
}

/// The podtop running `binary` with `flag` (under heaptrack, a child of its script).
fn podtop_pid(binary: &std::path::Path, flag: &str) -> u32 {
    for _ in 0..100 {
        let found = fs::read_dir("/proc").into_iter().flatten().flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let exe = fs::read_link(e.path().join("exe")).ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            (exe == binary && cmdline.split(|b| *b == 0).any(|a| a == flag.as_bytes())).then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("no podtop {flag} running")
}

/// Least-squares slope of (minutes, MiB).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| (num + (x - mx) * (y - my), den + (x - mx) * (x - mx)));
    if den == 0.0 { 0.0 } else { num / den }
}

/// Both podtops of a build at one time, in MiB.
struct Sample {
    minutes: f64,
    /// Resident: the ring buffer's mapping (made resident at start), the
    /// binary's pages run so far (file-backed, at most its size) and the heap.
    rss: [f64; 2],
    /// The anonymous part: the heap and the stacks, what grows with the traffic.
    anon: [f64; 2],
}

/// One build under watch: a `--json` podtop and a TUI-mode one.
struct Build {
    label: String,
    /// A copy of the binary: a build during the soak does not change what runs.
    binary: std::path::PathBuf,
    json: Child,
    tui: Child,
    json_pid: u32,
    tui_pid: u32,
    tables: Option<thread::JoinHandle<Vec<(String, u64, u64)>>>,
    samples: Vec<Sample>,
}

impl Build {
    fn start(label: &str, from: &str, seconds: u64, seen: Arc<AtomicU64>, lost: Arc<AtomicU64>) -> Build {
        const EVENTS: [&str; 2] = ["--events", "exec,file,net,http,dns"];
        let binary = std::env::temp_dir().join(format!("podtop-soak-{}-{label}", std::process::id()));
        fs::copy(from, &binary).unwrap_or_else(|e| panic!("{from} (make build): {e}"));
        // SOAK_HEAPTRACK=1 runs both under heaptrack (files in the current folder).
        let command = |name: &str| {
            if std::env::var_os("SOAK_HEAPTRACK").is_some() {
                let mut c = Command::new("heaptrack");
                c.args(["-o", &format!("heaptrack.soak-{label}-{name}")]).arg(&binary);
                c
            } else {
                Command::new(&binary)
            }
        };
        let mut json = command("json").arg("--json").args(EVENTS).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("podtop --json");
        let tui = command("tui")
            .args(EVENTS)
            .args(["--dump-screen", "160x50", "--duration", &(seconds + 5).to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podtop --dump-screen");
        let tables = Some(watch_stats(&mut json, seen, lost));
        let (json_pid, tui_pid) = (podtop_pid(&binary, "--json"), podtop_pid(&binary, "--dump-screen"));
        Build { label: label.into(), binary, json, tui, json_pid, tui_pid, tables, samples: Vec::new() }
    }

    /// Samples both; "RSS/anonymous/maps" MiB of each.
    fn sample(&mut self, minutes: f64) -> [String; 2] {
        let pids = [self.json_pid, self.tui_pid];
        let mib = |kib: u64| kib as f64 / 1024.0;
        let sample = Sample { minutes, rss: pids.map(|p| mib(status_kib(p, "VmRSS"))), anon: pids.map(|p| mib(status_kib(p, "RssAnon"))) };
        let maps = pids.map(|p| mib(bpf_maps_kib(p)));
        let shown = [0, 1].map(|i| format!("{:.1}/{:.1}/{:.1}", sample.rss[i], sample.anon[i], maps[i]));
        self.samples.push(sample);
        shown
    }

    /// Stops both; their CPU seconds (user and system) and the --json one's tables.
    fn stop(&mut self) -> (f64, f64, Vec<(String, u64, u64)>) {
        let (json_cpu, tui_cpu) = (cpu_seconds(self.json_pid), cpu_seconds(self.tui_pid));
        unsafe { libc::kill(self.json_pid as i32, libc::SIGINT) };
        let _ = self.json.wait();
        let tables = self.tables.take().and_then(|t| t.join().ok()).unwrap_or_default();
        unsafe { libc::kill(self.tui_pid as i32, libc::SIGINT) };
        let _ = self.tui.wait();
        let _ = fs::remove_file(&self.binary);
        (json_cpu, tui_cpu, tables)
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        let _ = self.json.kill();
        let _ = self.tui.kill();
        let _ = fs::remove_file(&self.binary);
    }
}

/// User and system time of `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn main() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "make soak needs root");
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(360);
    let warmup: Option<u64> = std::env::var("SOAK_WARMUP").ok().and_then(|s| s.parse().ok());
    // SOAK_COMPARE=path/to/podtop: another build watched under the same load, beside this one.
    let compare = std::env::var("SOAK_COMPARE").ok();
    let (seen, lost) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // SOAK_PODTOP=path/to/podtop: the build to watch, where not the one cargo built with this bench.
    let this = std::env::var("SOAK_PODTOP").unwrap_or_else(|_| PODTOP.into());
    let mut builds = vec![Build::start("this", &this, seconds, seen.clone(), lost.clone())];
    if let Some(other) = &compare {
        builds.push(Build::start("compared", other, seconds, Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))));
    }
    thread::sleep(Duration::from_secs(2));

    let stop = Arc::new(AtomicBool::new(false));
    let churned = Arc::new(AtomicU64::new(0));
    let l7 = SteadyL7::start(300);
    // SOAK_CHURN_RATE: pods made and removed a second (default 4).
    let churn_rate: f64 = std::env::var("SOAK_CHURN_RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let churner = {
        let (stop, churned) = (stop.clone(), churned.clone());
        thread::spawn(move || churn(stop, churned, churn_rate))
    };
    // Ctrl-C or a SIGTERM ends the soak early, through the same clean-up as its end.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupted.clone()).expect("a signal handler");
    }
    // A steady flood of opens beside the churn.
    let mut flood = Command::new("python3")
        .args(["-c", "import time\nwhile True:\n  for _ in range(200): open('/etc/hostname').close()\n  time.sleep(0.01)"])
        .spawn()
        .unwrap();

    println!("podtop under container churn and steady HTTP and DNS for {seconds} s: resident memory every {} s", SAMPLE_EVERY.as_secs());
    println!("(RSS/anonymous/maps: the anonymous part is the heap and the stacks; RSS also holds the binary's pages run so far and the BPF maps mapped into podtop, the ring buffer's double mapping mostly)");
    if let Some(other) = &compare {
        println!("this build: {this}; compared: {other}");
    }
    let mut header = format!("{:>6} {:>9} {:>9} {:>12} {:>6}", "time", "cgroups", "requests", "events seen", "lost");
    for b in &builds {
        let prefix = if builds.len() > 1 { format!("{} ", b.label) } else { String::new() };
        header += &format!(" {:>28} {:>28}", format!("{prefix}--json RSS/anon/maps MiB"), format!("{prefix}TUI RSS/anon/maps MiB"));
    }
    println!("{header}");
    let started = Instant::now();
    loop {
        let elapsed = started.elapsed();
        let mut line = format!(
            "{:>5}s {:>9} {:>9} {:>12} {:>6}",
            elapsed.as_secs(),
            churned.load(Ordering::Relaxed),
            l7.requests.load(Ordering::Relaxed),
            seen.load(Ordering::Relaxed),
            lost.load(Ordering::Relaxed)
        );
        for b in &mut builds {
            let [j, t] = b.sample(elapsed.as_secs_f64() / 60.0);
            line += &format!(" {j:>28} {t:>28}");
        }
        println!("{line}");
        if elapsed >= Duration::from_secs(seconds) || interrupted.load(Ordering::Relaxed) {
            break;
        }
        let next = started + elapsed + SAMPLE_EVERY.min(Duration::from_secs(seconds) - elapsed);
        while Instant::now() < next && !interrupted.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(200).min(next.saturating_duration_since(Instant::now())));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flood.kill();
    let _ = flood.wait();
    churner.join().unwrap();
    let requests = l7.requests.load(Ordering::Relaxed);
    drop(l7);

    println!();
    println!("{} cgroups churned, {requests} requests.", churned.load(Ordering::Relaxed));
    for b in &mut builds {
        let (json_cpu, tui_cpu, tables) = b.stop();
        // After warm-up: SOAK_WARMUP seconds, or the first half of the run.
        let warm = warmup.map_or(b.samples.len() / 2, |w| b.samples.iter().take_while(|s| s.minutes * 60.0 < w as f64).count());
        let half: Vec<&Sample> = b.samples.iter().skip(warm).collect();
        let growth = |pick: &dyn Fn(&Sample) -> f64| {
            let in_all = half.last().map_or(0.0, |l| pick(l)) - half.first().map_or(0.0, |f| pick(f));
            (slope(&half.iter().map(|s| (s.minutes, pick(s))).collect::<Vec<_>>()), in_all)
        };
        let name = if compare.is_some() { format!("{}: ", b.label) } else { String::new() };
        println!("{name}after warm-up ({} samples from {:.0} s), MiB a minute (and in all):", half.len(), half.first().map_or(0.0, |s| s.minutes * 60.0));
        for (i, (mode, cpu)) in [("--json", json_cpu), ("TUI", tui_cpu)].into_iter().enumerate() {
            let ((rss, rss_all), (anon, anon_all)) = (growth(&|s| s.rss[i]), growth(&|s| s.anon[i]));
            println!("{name}  {mode:<6} RSS {rss:+.3} ({rss_all:+.2}), anonymous {anon:+.3} ({anon_all:+.2}); CPU over the run {cpu:.1} s");
        }
        if !tables.is_empty() {
            println!("{name}the --json podtop's tables at the end (entries of capacity): {}", tables.iter().map(|(n, e, c)| format!("{n} {e}/{c}")).collect::<Vec<_>>().join(", "));
        }
    }
}
