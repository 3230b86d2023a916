//! The TUI end to end: the real binary, real BPF, a real terminal (tmux), the
//! demo pods with their haproxy sidecar; and replay of a recording.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let session = format!("podtop-test-{}", hex(6));
        sh(&format!("tmux new-session -d -s {session} -x 160 -y 45 \"{command}\""));
        Tmux { session }
    }

    fn screen(&self) -> String {
        sh(&format!("tmux capture-pane -p -t {}", self.session))
    }

    /// The row drawn in reverse video (the cursor), without its escapes.
    fn highlighted_row(&self) -> Option<String> {
        let styled = sh(&format!("tmux capture-pane -e -p -t {}", self.session));
        let line = styled.lines().find(|l| l.contains("\x1b[7m"))?;
        let mut plain = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI ... final byte
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        Some(plain)
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            sh(&format!("tmux send-keys -t {} {key}", self.session));
            thread::sleep(Duration::from_millis(150));
        }
    }

    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {what} within {timeout:?}; the screen:\n{screen}");
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.session]).output();
    }
}

/// The numbers in a node-view row, after its name.
fn row_numbers(screen: &str, name: &str) -> Vec<String> {
    let line = screen.lines().find(|l| l.contains(name)).unwrap_or_default();
    let after = line.split(name).nth(1).unwrap_or_default();
    after.split_whitespace().map(|s| s.trim_matches('│').to_string()).filter(|s| !s.is_empty()).collect()
}

#[test]
fn demo_in_a_real_terminal_shows_pods_and_the_sidecar_scope() {
    require_root();
    // Where the pane's shell writes podtop's exit status (\$?: that shell's, not
    // the one that starts tmux); removed on drop.
    let dir = OpenDir::new("tui");
    let status_file = dir.0.join("status").display().to_string();
    let tmux = Tmux::start(&format!("{PODTOP} demo; echo podtop exited \\$? > {status_file}; sleep 60"));

    // The demo's pods appear, with rates from the kernel's counters.
    let screen = tmux.wait_for("demo pods with traffic", Duration::from_secs(30), |s| {
        let backend = row_numbers(s, "demo/backend");
        s.contains("demo/frontend") && s.contains("demo/db") && backend.get(5).is_some_and(|tx| tx != "0B")
    });
    assert!(screen.contains("probes 9 attached, 0 skipped"), "{screen}");
    let frontend = row_numbers(&screen, "demo/frontend");
    assert_ne!(frontend.get(6).map(String::as_str), Some("0B"), "frontend TCP RX/s: {screen}");
    assert!(frontend.iter().any(|c| c.ends_with('%') && c != "0.0%"), "frontend SIDECAR%: {screen}");

    // The demo watches http: the backend serves requests; the frontend's
    // figures are those its haproxy makes to the backend (marked →).
    let screen = tmux.wait_for("requests in the demo", Duration::from_secs(30), |s| {
        let req = |pod: &str| row_numbers(s, pod).get(8).cloned().unwrap_or_default();
        !["", "0"].contains(&req("demo/backend").as_str()) && req("demo/frontend").starts_with('→')
    });
    assert!(screen.contains("REQ/s") && screen.contains("P99"), "{screen}");

    // A pod picked by name stays picked through intervals that re-sort the
    // rows: Enter and c open that pod, and their titles say so.
    tmux.keys(&["Home"]);
    for _ in 0..10 {
        if tmux.highlighted_row().is_some_and(|row| row.contains("demo/db")) {
            break;
        }
        tmux.keys(&["Down"]);
    }
    let picked = tmux.highlighted_row().unwrap_or_default();
    assert!(picked.contains("demo/db"), "the cursor reached demo/db: {picked:?}\n{}", tmux.screen());
    thread::sleep(Duration::from_secs(4));
    assert!(tmux.highlighted_row().is_some_and(|row| row.contains("demo/db")), "still on demo/db:\n{}", tmux.screen());
    tmux.keys(&["Enter"]);
    tmux.wait_for("demo/db's details", Duration::from_secs(10), |s| s.contains("demo/db: processes"));
    tmux.keys(&["Escape", "c"]);
    tmux.wait_for("demo/db's sidecar scope", Duration::from_secs(10), |s| s.contains("sidecar scope: demo/db"));
    tmux.keys(&["Escape"]);

    // The frontend pod through its haproxy sidecar's eyes, and its blind spots.
    tmux.keys(&["/", "frontend", "Enter", "c"]);
    let scope = tmux.wait_for("the sidecar scope", Duration::from_secs(10), |s| {
        s.contains("sidecar scope: demo/frontend") && s.contains("10.244.99.20:8080")
    });
    assert!(scope.contains("out  10.244.99.10:"), "outbound flows to the backend: {scope}");
    for blind_spot in ["execs", "file I/O", "UDP datagrams", "loopback TCP", "other pods", "host"] {
        assert!(scope.contains(blind_spot), "{blind_spot} missing from the scope:\n{scope}");
    }
    // Its haproxy is found as the sidecar (it relays the app's connections), and billed.
    let scope = tmux.wait_for("the sidecar's bill", Duration::from_secs(10), |s| s.contains("sidecar: proxy (haproxy)"));
    assert!(scope.contains(" cores") && scope.contains("relayed conns"), "{scope}");
    // The requests a proxy in HTTP mode sees there, by endpoint, beside those it misses.
    assert!(scope.contains("HTTP requests it sees") && scope.contains("GET /checkout"), "{scope}");
    assert!(scope.contains("app to its proxy"), "{scope}");
    let flows: String = scope.lines().map(|l| l.split("││").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    assert!(!flows.contains("python3") && !flows.contains("haproxy"), "a proxy sees no process identity:\n{flows}");

    // Drill-down: processes and their execs, with the sidecar container named.
    tmux.keys(&["Escape", "Enter"]);
    let detail = tmux.wait_for("the drill-down", Duration::from_secs(10), |s| s.contains("demo/frontend: processes"));
    assert!(detail.contains("[proxy]") && detail.contains("haproxy"), "{detail}");
    assert!(detail.contains("requests since start") && detail.contains("GET /checkout  · in pod"), "{detail}");

    // q quits: exit code 0, the terminal back from the alternate screen.
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path_exists(&status_file) {
        assert!(Instant::now() < deadline, "podtop did not exit on q; the screen:\n{}", tmux.screen());
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&status_file).unwrap().trim(), "podtop exited 0", "the screen:\n{}", tmux.screen());
    let alternate = sh(&format!("tmux display -p -t {} '#{{alternate_on}}'", tmux.session));
    assert_eq!(alternate.trim(), "0", "the alternate screen was left");
    assert!(!tmux.screen().contains("probes 9 attached"), "the TUI is gone from the screen");

    // Nothing left behind: no demo namespaces, cgroups, containers or programs.
    assert!(!sh("ip netns list").contains("podtop-demo"));
    assert!(!path_exists("/run/podtop-demo"));
    assert!(!path_exists(&format!("{}/kubepods.slice", cgroup2_mount().display())));
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn replay_of_a_recording_shows_the_screen_of_the_live_run() {
    require_root();
    let dir = OpenDir::new("replay");
    let recording = dir.0.join("recording.json");
    let mut client = Pod::new("rec-client");
    let mut server = Pod::new("rec-server");
    link(&mut client, &mut server, 79);
    let server_addr = server.addr.clone().unwrap();
    let mut listener = server
        .command(&["python3", &script("reply_3000.py"), &server_addr])
        .spawn()
        .unwrap();
    let mut live = Started::spawn(
        Command::new(PODTOP)
            .args(["--record", recording.to_str().unwrap(), "--duration", "4", "--dump-screen", "140x30"])
            .stdout(std::process::Stdio::piped()),
    );
    thread::sleep(Duration::from_millis(1500));
    client.run(&["python3", &script("paced_requests.py"), &server_addr]);
    let (status, live_screen) = live.finish(Duration::from_secs(20));
    let _ = listener.kill();
    let _ = listener.wait();
    assert!(status.is_some_and(|s| s.success()), "the live run: {status:?}; {}", live.said());
    assert!(live_screen.contains(&format!("pod {}", &client.uid[..8])), "{live_screen}\n{}", live.said());

    // Replayed by an unprivileged user, at once: no root, no BPF.
    std::fs::set_permissions(&recording, std::fs::Permissions::from_mode(0o644)).unwrap();
    let replayed = podtop_as_nobody(&dir, &["replay", recording.to_str().unwrap(), "--speed", "0", "--dump-screen", "140x30"]);
    assert!(replayed.status.success(), "{}", said(&replayed));
    let replay_screen = String::from_utf8(replayed.stdout).unwrap();
    // The first line names the source (live, or the replayed file, ended, and its span); the
    // hint to turn on BPF run-time accounting is live-only; the rest is the same screen.
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n").replace(" · BPF time: --bpf-stats", "");
    assert_eq!(body(&replay_screen), body(&live_screen));
    let source_line = replay_screen.lines().next().unwrap_or_default();
    assert!(source_line.contains(" · ended · ") && source_line.contains(" UTC ("), "{source_line}");
}
