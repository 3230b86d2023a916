//! podtop never hangs on what it does not control: a terminal that goes away
//! or stops taking output, a reader that stops reading, a filesystem that
//! stops answering. Whatever it is stuck on, it ends within a second of the
//! loss of its terminal, a signal or its deadline, with every probe detached.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Waits until process `pid` has exited (gone, or a zombie its parent has
/// not reaped yet); returns how long that took, None past `timeout`.
fn exit_time(pid: u32, timeout: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let state = status.lines().find_map(|l| l.strip_prefix("State:")).unwrap_or("").trim();
        if status.is_empty() || state.starts_with('Z') {
            return Some(started.elapsed());
        }
        if started.elapsed() > timeout {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The pid of the podtop process running in a tmux session's pane.
fn podtop_in(session: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pane = sh(&format!("tmux display -p -t {session} '#{{pane_pid}}'")).trim().to_string();
        let found = sh(&format!("pgrep -x podtop -s $(ps -o sid= -p {pane}) || true"));
        if let Some(pid) = found.lines().next() {
            return pid.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "podtop did not start in tmux session {session}");
        thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_screen(session: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = sh(&format!("tmux capture-pane -p -t {session}"));
        if screen.contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline && !screen.contains("podtop exited"), "no {needle:?} on the screen:\n{screen}");
        thread::sleep(Duration::from_millis(200));
    }
}

/// A tmux session, killed on drop (also when the test fails half-way).
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).output();
    }
}

/// A recording for replay: a short live run's records.
fn make_recording(dir: &OpenDir) -> String {
    let path = dir.0.join("rec.json");
    let out = Command::new(PODTOP).args(["--json", "--duration", "1.5"]).output().unwrap();
    assert!(out.status.success(), "the recording's run: {}", said(&out));
    std::fs::write(&path, out.stdout).unwrap();
    path.display().to_string()
}

#[test]
fn the_tui_replay_and_demo_end_within_a_second_of_losing_their_terminal() {
    require_root();
    let dir = OpenDir::new("hangup");
    let recording = make_recording(&dir);
    for (what, command, ready) in [
        ("live TUI", PODTOP.to_string(), "podtop node"),
        ("replay", format!("{PODTOP} replay {recording} --speed 0.01"), "replay"),
        ("demo", format!("{PODTOP} demo"), "demo/frontend"),
    ] {
        let session = format!("podtop-hangup-{}", hex(6));
        // The pane outlives a podtop that ends by itself: its last screen
        // (what podtop said, and how it exited) is the failure message.
        sh(&format!("tmux new-session -d -s {session} -x 160 -y 45 \"{command}; echo podtop exited \\$?; sleep 60\""));
        let _session = Session(session.clone());
        wait_for_screen(&session, ready);
        let pid = podtop_in(&session);
        sh(&format!("tmux kill-session -t {session}"));
        let took = exit_time(pid, Duration::from_secs(5));
        if took.is_none() {
            sh(&format!("kill -9 {pid}"));
        }
        let took = took.unwrap_or_else(|| panic!("{what}: still running 5 s after its terminal went away"));
        assert!(took < Duration::from_secs(1), "{what}: ended {took:?} after its terminal went away");
        assert!(loaded_podtop_programs().is_empty(), "{what}: programs left loaded");
    }
    assert!(!sh("ip netns list").contains("podtop-demo"), "the demo's namespaces are removed");
    assert!(!path_exists("/run/podtop-demo"));
    assert!(sh("runc list -q").trim().is_empty(), "the demo's containers are removed");
}

/// python holding podtop's TUI on a pseudo-terminal (tests/scripts/on_a_pty.py);
/// `then` is what it does once the TUI drew its first screen.
fn on_a_pty(then: &str) -> Command {
    let mut command = Command::new("python3");
    command.args([&script("on_a_pty.py"), PODTOP, then]);
    command
}

#[test]
fn a_closed_pty_ends_it_even_when_it_ignores_hangups() {
    require_root();
    for then in ["close", "close-ignoring-hangups"] {
        let mut holder = Killed(on_a_pty(then).stdout(Stdio::piped()).spawn().unwrap());
        let mut lines = BufReader::new(holder.0.stdout.take().unwrap()).lines();
        let pid: u32 = lines.next().unwrap().unwrap().trim().parse().unwrap();
        let next = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(next, "gone", "{then}: the pty closed once podtop drew its first screen");
        let took = exit_time(pid, Duration::from_secs(5));
        drop(holder);
        let took = took.unwrap_or_else(|| {
            sh(&format!("kill -9 {pid}"));
            panic!("{then}: still running 5 s after the pty closed")
        });
        assert!(took < Duration::from_secs(1), "{then}: ended {took:?} after the pty closed");
        assert!(loaded_podtop_programs().is_empty());
    }
}

#[test]
fn a_terminal_that_stops_taking_output_does_not_hold_a_signal() {
    require_root();
    let mut holder = Killed(on_a_pty("stall").stdout(Stdio::piped()).spawn().unwrap());
    let mut lines = BufReader::new(holder.0.stdout.take().unwrap()).lines();
    let pid: u32 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    // Wait until the UI thread is stuck writing to the terminal.
    let started = Instant::now();
    loop {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("wait_woken") || wchan.contains("tty_write") {
            break;
        }
        if exit_time(pid, Duration::ZERO).is_some() {
            // Its holder says what it wrote on the terminal before it ended.
            panic!("precondition: podtop ended before its terminal writes blocked: {:?}", lines.next().and_then(Result::ok));
        }
        assert!(started.elapsed() < Duration::from_secs(10), "precondition: podtop's terminal writes never blocked ({wchan})");
        thread::sleep(Duration::from_millis(100));
    }
    sh(&format!("kill -TERM {pid}"));
    let took = exit_time(pid, Duration::from_secs(5));
    drop(holder);
    let took = took.unwrap_or_else(|| {
        sh(&format!("kill -9 {pid}"));
        panic!("still running 5 s after SIGTERM")
    });
    assert!(took < Duration::from_millis(1200), "ended {took:?} after SIGTERM");
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn a_reader_that_stops_reading_holds_neither_a_signal_nor_the_deadline() {
    require_root();
    let churn = || {
        let marker = format!("/tmp/podtop-stall-{}", hex(6));
        std::fs::write(&marker, b"x").unwrap();
        for _ in 0..30_000 {
            drop(std::fs::File::open(&marker).unwrap());
        }
        std::fs::remove_file(&marker).unwrap();
    };
    // SIGTERM while the reader sleeps.
    let mut pipeline = Pipeline::start(&format!("exec {PODTOP} --json --events file | (sleep 30; cat > /dev/null)"));
    let podtop = pipeline.podtop();
    thread::sleep(Duration::from_millis(800));
    churn();
    sh(&format!("kill -TERM {podtop}"));
    let took = exit_time(podtop, Duration::from_secs(5));
    let took = took.unwrap_or_else(|| panic!("podtop ends although its reader sleeps; {}", pipeline.stderr.said()));
    assert!(took < Duration::from_secs(1), "ended {took:?} after SIGTERM; {}", pipeline.stderr.said());
    pipeline.end(); // the sleeping reader
    let stderr = pipeline.stderr.text_at_end(Duration::from_secs(2));
    assert!(stderr.contains("records not written (the output stopped taking them)"), "dropped and counted: {stderr}");
    assert!(loaded_podtop_programs().is_empty());

    // --duration while the reader sleeps.
    let started = Instant::now();
    let mut pipeline = Pipeline::start(&format!("{PODTOP} --json --events file --duration 2 | (sleep 30; cat > /dev/null)"));
    thread::sleep(Duration::from_millis(500));
    churn();
    let podtop = pipeline.podtop();
    exit_time(podtop, Duration::from_secs(10)).unwrap_or_else(|| panic!("podtop ends at its deadline; {}", pipeline.stderr.said()));
    assert!(started.elapsed() < Duration::from_secs(4), "--duration 2 ended after {:?}; {}", started.elapsed(), pipeline.stderr.said());
    pipeline.end();
    assert!(loaded_podtop_programs().is_empty());
}

/// A shell pipeline in a process group of its own, its stderr collected;
/// the whole group killed on drop, also when the test fails half-way.
struct Pipeline {
    shell: std::process::Child,
    stderr: Stderr,
    ended: bool,
}

impl Pipeline {
    fn start(pipeline: &str) -> Pipeline {
        let mut shell = Command::new("sh").arg("-c").arg(pipeline).stderr(Stdio::piped()).process_group(0).spawn().unwrap();
        let stderr = Stderr::collect(&mut shell);
        Pipeline { shell, stderr, ended: false }
    }

    /// The pid of the pipeline's podtop, once it runs.
    fn podtop(&self) -> u32 {
        let started = Instant::now();
        loop {
            if let Some(pid) = sh(&format!("pgrep -x podtop -g {} || true", self.shell.id())).lines().next() {
                return pid.trim().parse().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "podtop did not start; {}", self.stderr.said());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills what is left of the pipeline and reaps its shell.
    fn end(&mut self) {
        if !std::mem::replace(&mut self.ended, true) {
            sh(&format!("kill -- -{} 2>/dev/null || true", self.shell.id()));
            let _ = self.shell.wait();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.end();
    }
}

/// The FUSE server of tests/fixtures/stallfs.c, mounted; killed and
/// unmounted on drop, which releases whatever waits on it, then the
/// processes that used it are ended (before that, their exit would wait on
/// the server too: closing a FUSE file is a request).
struct StallingMount {
    dir: OpenDir,
    server: std::process::Child,
    users: Vec<std::process::Child>,
}

impl StallingMount {
    fn start() -> StallingMount {
        let dir = OpenDir::new("fuse");
        let binary = dir.0.join("stallfs");
        sh(&format!(
            "gcc -O2 -o {} {}/tests/fixtures/stallfs.c $(pkg-config --cflags --libs fuse3)",
            binary.display(),
            env!("CARGO_MANIFEST_DIR")
        ));
        std::fs::create_dir(dir.0.join("mnt")).unwrap();
        let server = Command::new(&binary).arg(dir.0.join("trigger")).arg(dir.0.join("mnt")).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        while !sh("cat /proc/self/mountinfo").contains(&dir.0.join("mnt").display().to_string()) {
            assert!(started.elapsed() < Duration::from_secs(10), "stallfs mounted");
            thread::sleep(Duration::from_millis(50));
        }
        StallingMount { dir, server, users: Vec::new() }
    }

    fn adopt(&mut self, user: std::process::Child) {
        self.users.push(user);
    }

    fn file(&self) -> String {
        self.dir.0.join("mnt/stall").display().to_string()
    }

    /// From now on, every request to the filesystem waits forever.
    fn stall(&self) {
        std::fs::write(self.dir.0.join("trigger"), b"").unwrap();
    }
}

impl Drop for StallingMount {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("umount").arg("-l").arg(self.dir.0.join("mnt")).status();
        for user in &mut self.users {
            let _ = user.kill();
            let _ = user.wait();
        }
    }
}

#[test]
fn a_filesystem_that_stops_answering_does_not_hold_podtop() {
    require_root();
    let mut fuse = StallingMount::start();
    // In a directory removed on drop: gone also when an assertion fails.
    let dir = OpenDir::new("regular");
    let regular = dir.0.join("written").to_str().unwrap().to_string();
    // A process holding a file on the FUSE mount and a regular file, both
    // opened before podtop starts: podtop learns the regular file's name
    // from the process's descriptors, next to the one it must not touch.
    let mut process = Command::new("python3")
        .args([&script("holds_two_files.py"), &fuse.file(), &regular])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    let mut stdin = process.stdin.take().unwrap();
    let pid = u64::from(process.id());
    fuse.adopt(process);
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    fuse.stall();
    // The stall is real: a stat of the FUSE file now waits (in a thread we abandon).
    let probe = fuse.file();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = std::fs::metadata(probe);
        let _ = tx.send(());
    });
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err(), "precondition: the FUSE mount stalls");

    let mut podtop = Podtop::start(&["--events", "file"]);
    std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "done");
    let named = podtop.wait_for(Duration::from_secs(5), |r| {
        r["type"] == "file_io" && r["process"]["pid"] == pid && r["file"]["path"] == regular.as_str()
    });
    assert!(named["file"]["write_bytes"].as_u64().unwrap() > 0);
    let started = Instant::now();
    let (status, records) = podtop.stop_with(libc::SIGTERM);
    assert!(started.elapsed() < Duration::from_secs(1), "ended {:?} after SIGTERM", started.elapsed());
    assert!(status.success());
    assert_eq!(records.last().unwrap()["type"], "stats", "and it ended on its normal path");
    drop(fuse);
    assert!(loaded_podtop_programs().is_empty());
}
