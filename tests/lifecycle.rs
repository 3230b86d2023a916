//! How podtop starts, fails and ends: one-line errors, clean exits on every
//! signal, a closed stdout, and nothing left attached in the kernel.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn assert_one_line_error(stderr: &[u8], needle: &str) {
    let text = String::from_utf8_lossy(stderr);
    assert_eq!(text.lines().count(), 1, "exactly one line on stderr, got: {text}");
    assert!(text.starts_with("podtop: ") && text.contains(needle), "{text}");
    assert!(!text.contains("panicked") && !text.contains("backtrace"), "{text}");
}

#[test]
fn without_privileges_it_says_how_to_run_it() {
    require_root();
    let out = podtop_as_nobody(&OpenDir::new("nobody"), &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(out.stdout.is_empty(), "{}", said(&out));
    assert_one_line_error(&out.stderr, "run it with sudo");
}

#[test]
fn unknown_pod_and_bad_flags_are_clear_errors() {
    require_root();
    let out = Command::new(PODTOP).args(["--json", "--pod", "no-such-pod-anywhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_one_line_error(&out.stderr, "no pod \"no-such-pod-anywhere\" on this node");

    let out = Command::new(PODTOP).args(["--json", "--events", "exec,disk"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error; {}", said(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'disk'"), "{}", said(&out));
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn every_signal_and_the_duration_end_it_cleanly_with_nothing_attached() {
    require_root();
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut podtop = Podtop::start(&[]);
        assert!(!podtop_programs_now().is_empty(), "attached while running");
        let (status, records) = podtop.stop_with(signal);
        assert!(status.success(), "signal {signal}: {status}; {}", podtop.said());
        assert_eq!(records.last().unwrap()["type"], "stats", "a last stats record on the way out");
        assert!(loaded_podtop_programs().is_empty(), "signal {signal} left programs attached");
        assert!(podtop.stderr().contains("0 lost"), "the exit summary; {}", podtop.said());
    }

    let mut podtop = Started::spawn(Command::new(PODTOP).args(["--json", "--duration", "1"]).stdout(Stdio::null()));
    let status = wait_timeout(&mut podtop.child, Duration::from_secs(15));
    let status = status.unwrap_or_else(|| panic!("--duration 1 ends by itself; {}", podtop.said()));
    assert!(status.success(), "{status}; {}", podtop.said());
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn a_closed_stdout_ends_it_quietly() {
    require_root();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; timeout 20 {PODTOP} --json 2>/tmp/podtop-head-stderr | head -n 1"))
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string("/tmp/podtop-head-stderr").unwrap_or_default();
    let _ = std::fs::remove_file("/tmp/podtop-head-stderr");
    assert!(out.status.success(), "podtop | head -n 1 exited {}; stderr: {stderr}", out.status);
    assert_eq!(stderr, "", "quiet");
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["type"], "start");
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn probes_lists_every_probe_and_detaches() {
    require_root();
    let out = Command::new(PODTOP).arg("probes").output().unwrap();
    assert!(out.status.success(), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // On every kernel podtop supports, each of these is attached (on_sys_exit
    // or, before 6.2, its stand-in on_sys_exit_read: one of the lines named so)...
    for program in ["on_exec", "on_sys_exit", "on_sock_state", "on_tcp_destroy", "on_cgroup_mkdir", "on_cgroup_rmdir"] {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(program)).collect();
        assert!(!lines.is_empty(), "{program} listed:\n{text}\n{}", said(&out));
        assert!(lines.iter().any(|l| l.contains(" attached ")), "{lines:?}\n{}", said(&out));
    }
    // ...and every capability is served, by whichever variant this kernel takes.
    let capabilities = text.split("CAPABILITY").nth(1).unwrap_or_else(|| panic!("a capability table:\n{text}\n{}", said(&out)));
    for capability in ["exec", "exit", "files", "tcp_connections", "tcp_bytes_sent", "tcp_bytes_received", "udp_bytes_sent", "udp_bytes_received"] {
        let line = capabilities.lines().find(|l| l.starts_with(&format!("{capability} "))).unwrap_or_else(|| panic!("{capability}:\n{text}"));
        assert!(!line.contains("nothing on this kernel") && line.contains("on_"), "{line}");
    }
    assert!(out.stderr.is_empty(), "no program was refused: {}", String::from_utf8_lossy(&out.stderr));
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn a_full_ring_buffer_is_counted_never_silent() {
    require_root();
    // A 1 MiB ring buffer and a reader that stops reading: the kernel must
    // count every open it could not hand over.
    let mut podtop = Started::spawn(Command::new(PODTOP).args(["--json", "--events", "file", "--ringbuf-mib", "1"]).stdout(Stdio::piped()));
    let mut stdout = std::io::BufReader::new(podtop.child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.contains("\"type\":\"start\""), "the start record: {first:?}; {}", podtop.said());
    let marker = format!("/tmp/podtop-flood-{}", hex(6));
    std::fs::write(&marker, b"x").unwrap();
    let opens = 20_000; // about 12 MB of open records: far more than the ring and the pipe hold
    for _ in 0..opens {
        drop(std::fs::File::open(&marker).unwrap());
    }
    std::fs::remove_file(&marker).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(podtop.id() as i32, libc::SIGINT) };
    // Taken as fast as it comes, parsed after: once stopping, podtop gives a
    // reader 2.5 s at most (the output's cap), and parsing line by line while
    // reading, under an emulated kernel on a loaded machine, once took longer
    // and lost the final stats record to the cap.
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let status = wait_timeout(&mut podtop.child, Duration::from_secs(20)).unwrap_or_else(|| panic!("podtop stops; {}", podtop.said()));
    let stderr = podtop.stderr_at_end();
    assert!(status.success(), "{status}; {}", podtop_said(&stderr));
    let delivered = of_type(&records, "open").filter(|r| r["file"]["path"] == marker.as_str()).count() as u64;
    let stats = records.last().unwrap();
    assert_eq!(stats["type"], "stats", "the last record; podtop said: {stderr}");
    let lost = stats["events"]["open"]["lost"].as_u64().unwrap();
    assert!(lost > 0, "the flood overflowed a 1 MiB ring buffer");
    assert!(delivered + lost >= opens, "every open is either delivered ({delivered}) or counted lost ({lost})");
    assert_eq!(stats["lost_total"].as_u64().unwrap(), lost);
    assert!(stderr.contains(&format!("{lost} lost")) || stderr.contains(" lost in the kernel"), "{stderr}");
    assert!(!stderr.contains(" 0 lost in the kernel"), "the exit summary shows the loss: {stderr}");
}

#[test]
fn a_missing_probe_is_reported_and_the_rest_goes_on() {
    require_root();
    // As on a kernel without tcp:tcp_destroy_sock: close falls back to the TCP_CLOSE state.
    let mut podtop = Podtop::start(&["--events", "net", "--skip-probes", "on_tcp_destroy"]);
    let start = podtop.records()[0].clone();
    assert_eq!(start["probes"]["on_tcp_destroy"]["status"], "skipped");
    assert_eq!(start["probes"]["on_tcp_destroy"]["reason"], "turned off (--skip-probes)");
    assert_eq!(start["probes"]["on_sock_state"]["status"], "attached");
    let client = Command::new("python3").arg(script("loopback_send.py")).spawn().unwrap();
    let pid = u64::from(client.id());
    assert!(client.wait_with_output().unwrap().status.success());
    let close = podtop.wait_for(Duration::from_secs(5), |r| {
        r["type"] == "close" && r["process"]["pid"] == pid && r["net"]["tx_bytes"] == 5000
    });
    assert_eq!(close["net"]["rx_bytes"], 0);
    podtop.stop();
}
