//! `make soak`: podtop's memory under container churn, for minutes.
//!
//! Two podtops watch the same load, one streaming `--json` to /dev/null and
//! one in TUI mode (`--dump-screen`, the model without a terminal); the load
//! makes and removes kubelet-shaped pod cgroups all the time (each with a
//! process that execs, opens files and talks TCP and UDP), beside a steady
//! flood of opens. Every 30 s a line: cgroups churned so far, events seen and
//! lost, and each podtop's resident memory. At the end, the slope of each
//! curve after warm-up: flat means bounded.
//!
//! SOAK_SECONDS sets the length (default 360). Root.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

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

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
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
fn churn(stop: Arc<AtomicBool>, churned: Arc<AtomicU64>) {
    let root = cgroup2_mount();
    let parent = format!("{root}/kubepods.slice/kubepods-besteffort.slice");
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
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

/// The last `stats` record podtop wrote: (seen, lost).
fn watch_stats(child: &mut Child, seen: Arc<AtomicU64>, lost: Arc<AtomicU64>) {
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("{\"type\":\"stats\"") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                seen.store(v["seen_total"].as_u64().unwrap_or(0), Ordering::Relaxed);
                lost.store(v["lost_total"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
        }
    });
}

/// Least-squares slope of (minutes, MiB).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| (num + (x - mx) * (y - my), den + (x - mx) * (x - mx)));
    if den == 0.0 { 0.0 } else { num / den }
}

fn main() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "make soak needs root");
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(360);
    let mut json = Command::new(PODTOP).args(["--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("target/release/podtop (make build)");
    let mut tui = Command::new(PODTOP)
        .args(["--dump-screen", "160x50", "--duration", &(seconds + 5).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (seen, lost) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    watch_stats(&mut json, seen.clone(), lost.clone());
    thread::sleep(Duration::from_secs(2));

    let stop = Arc::new(AtomicBool::new(false));
    let churned = Arc::new(AtomicU64::new(0));
    let churner = {
        let (stop, churned) = (stop.clone(), churned.clone());
        thread::spawn(move || churn(stop, churned))
    };
    // A steady flood of opens beside the churn.
    let mut flood = Command::new("python3")
        .args(["-c", "import time\nwhile True:\n  for _ in range(200): open('/etc/hostname').close()\n  time.sleep(0.01)"])
        .spawn()
        .unwrap();

    println!("podtop under container churn for {seconds} s: resident memory every {} s", SAMPLE_EVERY.as_secs());
    println!("{:>6} {:>9} {:>12} {:>6} {:>14} {:>14}", "time", "cgroups", "events seen", "lost", "--json RSS MiB", "TUI RSS MiB");
    let started = Instant::now();
    let mut samples: Vec<(f64, f64, f64)> = Vec::new();
    loop {
        let elapsed = started.elapsed();
        let (j, t) = (rss_kib(json.id()) as f64 / 1024.0, rss_kib(tui.id()) as f64 / 1024.0);
        samples.push((elapsed.as_secs_f64() / 60.0, j, t));
        println!(
            "{:>5}s {:>9} {:>12} {:>6} {:>14.1} {:>14.1}",
            elapsed.as_secs(),
            churned.load(Ordering::Relaxed),
            seen.load(Ordering::Relaxed),
            lost.load(Ordering::Relaxed),
            j,
            t
        );
        if elapsed >= Duration::from_secs(seconds) {
            break;
        }
        thread::sleep(SAMPLE_EVERY.min(Duration::from_secs(seconds) - elapsed));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flood.kill();
    let _ = flood.wait();
    churner.join().unwrap();
    unsafe { libc::kill(json.id() as i32, libc::SIGINT) };
    let _ = json.wait();
    let _ = tui.kill();
    let _ = tui.wait();

    // After warm-up: the second half of the run.
    let half: Vec<&(f64, f64, f64)> = samples.iter().skip(samples.len() / 2).collect();
    let json_slope = slope(&half.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>());
    let tui_slope = slope(&half.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>());
    println!();
    println!(
        "After warm-up (the second half, {} samples): --json {json_slope:+.2} MiB/min, TUI {tui_slope:+.2} MiB/min ({} cgroups churned in all).",
        half.len(),
        churned.load(Ordering::Relaxed)
    );
}
