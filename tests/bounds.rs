//! What podtop holds stays bounded, whatever it is fed: recordings from
//! anywhere (replay runs as any user), and bursts that lose events.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `podtop replay FILE --speed 0 --dump-screen 160x50` as nobody, with its
/// address space capped: a replay that read its input whole would die.
fn replay_capped(dir: &OpenDir, file: &str) -> (Output, Duration) {
    let started = Instant::now();
    let binary = dir.0.join("podtop");
    if !binary.exists() {
        std::fs::copy(PODTOP, &binary).unwrap();
    }
    let out = Command::new("prlimit")
        .arg("--as=1073741824")
        .arg("--")
        .args(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(&binary)
        .args(["replay", file, "--speed", "0", "--dump-screen", "160x50"])
        .output()
        .unwrap();
    (out, started.elapsed())
}

fn one_line_error(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("memory allocation"), "{stderr}");
    stderr
}

const START: &str = r#"{"type":"start","time":"2026-11-29T00:00:00.000000000Z","node":"n","version":"0","kernel":"6","cgroup2":"/sys/fs/cgroup","probes":{},"filters":{}}"#;

#[test]
fn replay_of_endless_or_huge_input_is_a_clear_error() {
    require_root();
    let dir = OpenDir::new("replay-bounds");
    let (out, took) = replay_capped(&dir, "/dev/zero");
    assert!(one_line_error(&out).contains("is not a podtop recording"));
    assert!(took < Duration::from_secs(5), "{took:?}; {}", said(&out));

    let huge = dir.0.join("huge-line.json");
    let mut f = std::fs::File::create(&huge).unwrap();
    writeln!(f, "{START}").unwrap();
    let line = format!("{{\"type\":\"exec\",\"pad\":\"{}\"}}\n", "x".repeat(8 * 1024 * 1024));
    f.write_all(line.as_bytes()).unwrap();
    drop(f);
    let (out, _) = replay_capped(&dir, huge.to_str().unwrap());
    let stderr = one_line_error(&out);
    assert!(stderr.contains("line 2 of the recording is a line longer than 1024 KiB"), "{stderr}");

    let bad_speed = Command::new(PODTOP).args(["replay", "/dev/null", "--speed", "1e-300"]).output().unwrap();
    assert_eq!(bad_speed.status.code(), Some(2), "clap's usage error; {}", said(&bad_speed));
    assert!(String::from_utf8_lossy(&bad_speed.stderr).contains("out of range"), "{}", said(&bad_speed));
}

#[test]
fn replay_of_a_hundred_thousand_pods_keeps_a_bounded_view() {
    require_root();
    let dir = OpenDir::new("replay-pods");
    let path = dir.0.join("pods.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "{START}").unwrap();
    for i in 0..100_000u32 {
        writeln!(
            f,
            r#"{{"type":"counters","time":"2026-11-29T00:00:{:02}.000000000Z","node":"n","cgroup":{{"id":{},"path":"/p{i}"}},"container":null,"pod":{{"uid":"{i:08x}-0000-0000-0000-000000000000","name":"pod-{i}","namespace":"load","qos":"besteffort"}},"counters":{{"execs":1}}}}"#,
            i / 2000 % 60,
            i + 10
        )
        .unwrap();
    }
    writeln!(f, r#"{{"type":"stats","time":"2026-11-29T00:01:00.000000000Z","node":"n","seen_total":1,"lost_total":0,"counters_dropped":{{}}}}"#).unwrap();
    drop(f);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (out, took) = replay_capped(&dir, path.to_str().unwrap());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let screen = String::from_utf8(out.stdout.clone()).unwrap();
    let shown: Vec<u32> = screen
        .split("load/pod-")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(shown.len() >= 40, "a screenful of pods:\n{screen}\n{}", said(&out));
    assert!(shown.iter().all(|n| *n >= 100_000 - 4096), "the most recent pods are kept, the oldest went first:\n{screen}");
    assert!(took < Duration::from_secs(60), "it ends (a hang guard, not a timing): {took:?}; {}", said(&out));
}

#[test]
fn processes_whose_exits_were_lost_leave_the_view() {
    require_root();
    let pod = Pod::new("ghosts");
    // The TUI's collection with a small ring buffer, stopped while the pod
    // runs thousands of short processes: most execs and exits are lost.
    let tui = Command::new(PODTOP)
        .args(["--events", "exec", "--ringbuf-mib", "1", "--duration", "9", "--dump-screen", "200x30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sh(&format!("kill -STOP {}", tui.id()));
    let flood = pod.run(&["sh", "-c", "i=0; while [ $i -lt 3000 ]; do /bin/true; i=$((i+1)); done; echo done"]);
    assert_eq!(flood.trim(), "done");
    sh(&format!("kill -CONT {}", tui.id()));
    let out = tui.wait_with_output().unwrap();
    assert!(out.status.success(), "{}: {}", out.status, said(&out));
    let screen = String::from_utf8(out.stdout.clone()).unwrap();
    let name = format!("pod {}", &pod.uid[..12]);
    let row = screen.lines().find(|l| l.contains(&name)).unwrap_or_else(|| panic!("the pod's row:\n{screen}\n{}", said(&out)));
    let numbers: Vec<&str> = row.split(&name).nth(1).unwrap().split_whitespace().collect();
    let procs: u64 = numbers[0].parse().unwrap_or_else(|_| panic!("PROCS in {row}"));
    assert_eq!(procs, 0, "no process of the pod runs any more: {row}");
    let lost = screen.lines().nth(1).unwrap();
    assert!(!lost.contains("lost 0 "), "the burst lost events (the test's premise): {lost}");
}

#[test]
fn record_without_a_terminal_is_refused_not_ignored() {
    require_root();
    // stdout a pipe: podtop streams JSON, and --record (a TUI option) would write nothing.
    let dir = OpenDir::new("record-pipe");
    let file = dir.0.join("run.json");
    let out = Command::new(PODTOP).args(["--record", file.to_str().unwrap(), "--duration", "1"]).stdout(Stdio::piped()).output().unwrap();
    assert!(!out.status.success(), "{}", said(&out));
    let error = one_line_error(&out);
    assert!(error.contains("--record is for the TUI") && error.contains("redirect"), "{error}");
    assert!(out.stdout.is_empty(), "nothing streamed either");
    assert!(!file.exists(), "no file made");
}
