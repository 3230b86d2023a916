//! The demo cleans up whatever ends it: a signal, and a crashed container;
//! one demo runs at a time; a demo that cannot start says why.

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::time::Duration;

use common::*;

/// Where the demo's pods are made before its first record.
const DEMO_START: Duration = Duration::from_secs(60);

#[test]
fn demo_removes_everything_after_a_crashed_container_and_sigterm() {
    require_root();
    let mut demo = Podtop::start_within(&["demo", "--events", "net"], DEMO_START);
    // Wait for the backend pod to serve a request (its accept), then crash its container.
    demo.wait_for(Duration::from_secs(60), |r| r["type"] == "accept" && r["container"]["name"] == "api");
    let cgroup = format!(
        "{}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0e5c2a10_2222_4c3e_9a51_d3e0f1a2b302.slice",
        cgroup2_mount().display()
    );
    let crashed = sh(&format!("cat {cgroup}/*/cgroup.procs | head -1")).trim().to_string();
    sh(&format!("kill -9 {crashed}"));
    std::thread::sleep(Duration::from_millis(500));
    let (status, _) = demo.stop_within(libc::SIGTERM, Duration::from_secs(30));
    assert!(status.success(), "{status}; {}", demo.said());
    assert!(!sh("ip netns list").contains("podtop-demo"), "network namespaces removed; {}", demo.said());
    assert!(!path_exists("/run/podtop-demo"), "bundles removed; {}", demo.said());
    assert!(!path_exists(&cgroup), "cgroups removed; {}", demo.said());
    assert!(sh("runc list -q").trim().is_empty(), "containers removed; {}", demo.said());
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn one_demo_at_a_time() {
    require_root();
    let mut first = Podtop::start_within(&["demo", "--events", "exec"], DEMO_START);
    let second = std::process::Command::new(PODTOP).args(["demo", "--json", "--duration", "1"]).output().unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", said(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("another podtop demo is running (pid {})", first.pid())), "{stderr}");
    // The first one's pods are still there.
    assert!(sh("ip netns list").contains("podtop-demo-frontend"), "{}", first.said());
    assert!(!sh("runc list -q").trim().is_empty(), "{}", first.said());
    let (status, _) = first.stop_within(libc::SIGTERM, Duration::from_secs(10));
    assert!(status.success(), "the demo stops: {status}; {}", first.said());
    assert!(!sh("ip netns list").contains("podtop-demo"));
    assert!(!path_exists("/run/podtop-demo.lock"), "the lock goes with the demo");
    assert!(loaded_podtop_programs().is_empty());
}

/// The demo's lock (src/cmd/demo.rs), held by the test as a running demo
/// holds it (while the file is open); the file goes on drop.
struct HeldLock {
    _open: std::fs::File,
}

const LOCK: &str = "/run/podtop-demo.lock";

impl HeldLock {
    fn take() -> HeldLock {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(LOCK)
            .unwrap();
        // SAFETY: flock on a descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(locked, 0, "precondition: no demo runs ({LOCK} is locked)");
        std::fs::write(LOCK, format!("{}\n", std::process::id())).unwrap();
        HeldLock { _open: file }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(LOCK);
    }
}

/// podtop's demo tests once read its stdout with podtop's stderr thrown
/// away: a demo that could not start ("another podtop demo is running")
/// failed them with "called `Option::unwrap()` on a `None` value". A podtop
/// that cannot start fails the test at once, with what it said.
#[test]
fn a_podtop_that_cannot_start_fails_the_test_with_what_it_said() {
    require_root();
    let _held = HeldLock::take();
    let started = std::time::Instant::now();
    let failure = std::panic::catch_unwind(|| Podtop::start_within(&["demo", "--events", "exec"], DEMO_START))
        .err()
        .expect("a demo started although its lock is held");
    let message = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    let line = format!("podtop: another podtop demo is running (pid {}); one demo at a time", std::process::id());
    assert!(message.contains(&line), "the failure carries podtop's own line {line:?}: {message:?}");
    assert!(message.contains("output ended"), "and says podtop ended: {message:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "at once, not at the timeout: {:?}", started.elapsed());
    assert!(sh("ip netns list").lines().all(|l| !l.contains("podtop-demo")), "nothing made");
    assert!(loaded_podtop_programs().is_empty());
}
