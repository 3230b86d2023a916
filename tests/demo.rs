//! The demo cleans up whatever ends it: a signal, and a crashed container.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn demo_removes_everything_after_a_crashed_container_and_sigterm() {
    require_root();
    let mut demo = Command::new(PODTOP)
        .args(["demo", "--json", "--events", "net"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    // Wait for the backend pod to serve a request (its accept), then crash its container.
    let accepted = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("\"type\":\"accept\"") && l.contains("\"name\":\"api\""));
    assert!(accepted.is_some(), "the demo's backend accepted a connection");
    let cgroup = format!(
        "{}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0e5c2a10_2222_4c3e_9a51_d3e0f1a2b302.slice",
        cgroup2_mount().display()
    );
    let crashed = sh(&format!("cat {cgroup}/*/cgroup.procs | head -1")).trim().to_string();
    sh(&format!("kill -9 {crashed}"));
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {}); // keep draining
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(demo.id() as i32, libc::SIGTERM) };
    let status = wait_timeout(&mut demo, Duration::from_secs(30)).expect("the demo stops on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(!sh("ip netns list").contains("podtop-demo"), "network namespaces removed");
    assert!(!path_exists("/run/podtop-demo"), "bundles removed");
    assert!(!path_exists(&cgroup), "cgroups removed");
    assert!(sh("runc list -q").trim().is_empty(), "containers removed");
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn one_demo_at_a_time() {
    require_root();
    let mut first = Command::new(PODTOP).args(["demo", "--json", "--events", "exec"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"type\":\"start\""), "the first demo runs");
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    let second = Command::new(PODTOP).args(["demo", "--json", "--duration", "1"]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("another podtop demo is running (pid {})", first.id())), "{stderr}");
    // The first one's pods are still there.
    assert!(sh("ip netns list").contains("podtop-demo-frontend"));
    assert!(!sh("runc list -q").trim().is_empty());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert!(wait_timeout(&mut first, Duration::from_secs(10)).expect("the demo stops").success());
    assert!(!sh("ip netns list").contains("podtop-demo"));
    assert!(!path_exists("/run/podtop-demo.lock"), "the lock goes with the demo");
    assert!(loaded_podtop_programs().is_empty());
}
