//! podtop runs as root beside other people's workloads: what they can make
//! it see, write or show. 32-bit syscalls seen for what they are, secrets in
//! command lines masked everywhere, recordings private and never written
//! through a link. (A pod copied into a user's cgroup subtree: tests/runc.rs.)

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// tests/fixtures/syscalls.c built into `dir`, 64-bit and 32-bit.
fn build_syscalls(dir: &OpenDir) -> (String, String) {
    let source = format!("{}/tests/fixtures/syscalls.c", env!("CARGO_MANIFEST_DIR"));
    let native = dir.0.join("syscalls64").display().to_string();
    let compat = dir.0.join("syscalls32").display().to_string();
    sh(&format!("gcc -O2 -o {native} {source}"));
    sh(&format!("gcc -O2 -m32 -static -o {compat} {source}"));
    (native, compat)
}

#[test]
fn thirty_two_bit_syscalls_are_seen_as_what_they_are() {
    require_root();
    let dir = OpenDir::new("compat");
    let (native, compat) = build_syscalls(&dir);
    let mut podtop = Podtop::start(&["--events", "file,exec"]);
    let mut expected = Vec::new();
    for (binary, tag) in [(&compat, "32"), (&native, "64")] {
        let (a, b) = (dir.0.join(format!("open{tag}")), dir.0.join(format!("creat{tag}")));
        let out = Command::new(binary).arg(&a).arg(&b).output().unwrap();
        assert!(out.status.success(), "{binary} ran");
        expected.push((binary.rsplit('/').next().unwrap().to_string(), a.display().to_string(), b.display().to_string()));
    }
    let last = expected.last().unwrap().2.clone();
    podtop.wait_for(Duration::from_secs(5), |r| r["type"] == "open" && r["file"]["path"] == last.as_str());
    std::thread::sleep(Duration::from_millis(1300)); // the next read of the kernel's file counters
    let records = podtop.stop();
    for (comm, opened, created) in expected {
        let of_process = |r: &&Value| r["process"]["comm"] == comm.as_str();
        for path in [&opened, &created] {
            let open = of_type(&records, "open").filter(of_process).find(|r| r["file"]["path"] == path.as_str());
            let open = open.unwrap_or_else(|| panic!("{comm}: the open of {path} is seen"));
            assert_eq!(open["file"]["flags_text"], "O_WRONLY|O_CREAT|O_TRUNC", "{comm}: {open}");
        }
        let written = |path: &str| -> u64 {
            of_type(&records, "file_io").filter(of_process).filter(|r| r["file"]["path"] == path).map(|r| r["file"]["write_bytes"].as_u64().unwrap()).sum()
        };
        assert_eq!(written(&opened), 3000, "{comm}: bytes written through open()'s descriptor");
        assert_eq!(written(&created), 500, "{comm}: bytes written through creat()'s descriptor");
        let all: u64 = of_type(&records, "file_io").filter(of_process).map(|r| r["file"]["write_bytes"].as_u64().unwrap()).sum();
        assert_eq!(all, 3500, "{comm}: nothing else counted as written (getpid is not writev)");
    }
}

#[test]
fn secrets_in_command_lines_are_masked_in_json_recordings_and_on_screen() {
    require_root();
    let dir = OpenDir::new("redact");
    let recording = dir.0.join("rec.json");
    let secret_argv = ["/bin/echo", "--password=hunter2", "--token", "s3cr3t-t0ken", "https://bob:pa55w0rd@example.test/"];
    let mut json = Podtop::start(&["--events", "exec"]);
    let mut plain = Podtop::start(&["--events", "exec", "--no-redact"]);
    let tui = Command::new(PODTOP)
        .args(["--events", "exec", "--record", recording.to_str().unwrap(), "--duration", "3", "--dump-screen", "200x40", "--keys", "e/echo\n"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(Command::new(secret_argv[0]).args(&secret_argv[1..]).output().unwrap().status.success());
    let is_it = |r: &Value| r["type"] == "exec" && r["exec"]["args"][1].as_str().is_some_and(|a| a.starts_with("--password="));
    let masked = json.wait_for(Duration::from_secs(5), is_it);
    let shown = plain.wait_for(Duration::from_secs(5), is_it);
    json.stop();
    plain.stop();
    let screen = String::from_utf8(tui.wait_with_output().unwrap().stdout).unwrap();

    assert_eq!(
        masked["exec"]["args"],
        serde_json::json!(["/bin/echo", "--password=***", "--token", "***", "https://bob:***@example.test/"])
    );
    assert_eq!(masked["exec"]["args_redacted"], true);
    assert_eq!(shown["exec"]["args"], serde_json::json!(secret_argv), "--no-redact shows them as they are");
    assert_eq!(shown["exec"]["args_redacted"], false);
    let recorded = std::fs::read_to_string(&recording).unwrap();
    assert!(recorded.contains("--password=***"), "the recording has the exec");
    for secret in ["hunter2", "s3cr3t-t0ken", "pa55w0rd"] {
        assert!(!recorded.contains(secret), "{secret} is not in the recording");
        assert!(!screen.contains(secret), "{secret} is not on the screen:\n{screen}");
    }
    assert!(screen.contains("--password=***"), "the event pane shows the masked exec:\n{screen}");
}

#[test]
fn recordings_are_private_and_never_written_through_a_link() {
    require_root();
    let dir = OpenDir::new("record");
    // A root-only file, and a link to it that another user planted where root will write.
    let precious = dir.0.join("precious");
    std::fs::write(&precious, b"root's data").unwrap();
    std::fs::set_permissions(&precious, std::fs::Permissions::from_mode(0o600)).unwrap();
    let planted = dir.0.join("planted.json");
    std::os::unix::fs::symlink(&precious, &planted).unwrap();
    sh(&format!("chown -h 65534:65534 {}", planted.display()));
    let record = |path: &std::path::Path, extra: &[&str]| {
        Command::new(PODTOP)
            .args(["--record", path.to_str().unwrap(), "--duration", "0.5", "--dump-screen", "80x24"])
            .args(extra)
            .output()
            .unwrap()
    };
    for extra in [&[][..], &["--force"][..]] {
        let out = record(&planted, extra);
        assert_eq!(out.status.code(), Some(1), "refused {extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("podtop: --record: "), "{stderr}");
    }
    assert_eq!(std::fs::read(&precious).unwrap(), b"root's data", "the link's target is untouched");

    let fresh = dir.0.join("fresh.json");
    assert!(record(&fresh, &[]).status.success());
    let meta = std::fs::metadata(&fresh).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "private: it holds every command line on the node");
    assert_eq!(meta.uid(), 0);
    let first: Value = serde_json::from_str(std::fs::read_to_string(&fresh).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "start");

    let out = record(&fresh, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"), "an existing file needs --force");
    assert!(record(&fresh, &["--force"]).status.success());
    assert!(loaded_podtop_programs().is_empty());
}
