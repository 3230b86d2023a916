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
    let mut tui = Started::spawn(
        Command::new(PODTOP)
            .args(["--events", "exec", "--record", recording.to_str().unwrap(), "--duration", "3", "--dump-screen", "200x40", "--keys", "e/echo\n"])
            .stdout(std::process::Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(Command::new(secret_argv[0]).args(&secret_argv[1..]).output().unwrap().status.success());
    let is_it = |r: &Value| r["type"] == "exec" && r["exec"]["args"][1].as_str().is_some_and(|a| a.starts_with("--password="));
    let masked = json.wait_for(Duration::from_secs(5), is_it);
    let shown = plain.wait_for(Duration::from_secs(5), is_it);
    json.stop();
    plain.stop();
    let (status, screen) = tui.finish(Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()), "the TUI run ends: {status:?}; {}", tui.said());

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
    assert!(screen.contains("--password=***"), "the event pane shows the masked exec:\n{screen}\n{}", tui.said());
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
        assert_eq!(out.status.code(), Some(1), "refused {extra:?}; {}", said(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("podtop: --record: "), "{stderr}");
    }
    assert_eq!(std::fs::read(&precious).unwrap(), b"root's data", "the link's target is untouched");

    let fresh = dir.0.join("fresh.json");
    let out = record(&fresh, &[]);
    assert!(out.status.success(), "{}", said(&out));
    let meta = std::fs::metadata(&fresh).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "private: it holds every command line on the node");
    assert_eq!(meta.uid(), 0);
    let first: Value = serde_json::from_str(std::fs::read_to_string(&fresh).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "start");

    let out = record(&fresh, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"), "an existing file needs --force; {}", said(&out));
    let out = record(&fresh, &["--force"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(loaded_podtop_programs().is_empty());
}

/// The writes of tests/scripts/reopening_writer.py, each of 100 bytes.
const WRITES: u64 = 100;

/// Runs a writer to completion, after its "ready" line.
fn start_writer(mut command: Command) -> Killed {
    use std::io::BufRead;
    let mut child = Killed(command.stdout(std::process::Stdio::piped()).spawn().unwrap());
    let mut first = String::new();
    std::io::BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "ready");
    child
}

/// The file_io records of one process and inode: every path they name, and the bytes written.
fn file_io_of(records: &[Value], pid: u32, ino: u64) -> (Vec<String>, u64) {
    let mine: Vec<&Value> = of_type(records, "file_io").filter(|r| r["process"]["pid"] == pid && r["file"]["ino"] == ino).collect();
    let mut paths: Vec<String> = mine.iter().map(|r| r["file"]["path"].to_string()).collect();
    paths.sort();
    paths.dedup();
    (paths, mine.iter().map(|r| r["file"]["write_bytes"].as_u64().unwrap()).sum())
}

#[test]
fn a_pod_cannot_rename_the_hosts_files() {
    require_root();
    let dir = OpenDir::new("names");
    let real = dir.0.join("real-name");
    std::fs::write(&real, b"").unwrap();
    // The pod's own volume: a hard link to the host's file, named innocently.
    std::fs::create_dir(dir.0.join("volume")).unwrap();
    let innocent = dir.0.join("volume/innocent");
    std::fs::hard_link(&real, &innocent).unwrap();
    let pod = Pod::new("names");
    let recording = dir.0.join("tui.json");

    // Once as --json ships every open, once as the TUI, which ships each
    // file's first open per mount namespace only (its recording shows what it named).
    for tui in [false, true] {
        let (mut json, mut screen) = (None, None);
        if tui {
            let _ = std::fs::remove_file(&recording);
            screen = Some(Started::spawn(
                Command::new(PODTOP)
                    .args(["--events", "file", "--record", recording.to_str().unwrap(), "--duration", "7", "--dump-screen", "120x30"])
                    .stdout(std::process::Stdio::null()),
            ));
            std::thread::sleep(Duration::from_millis(2000));
        } else {
            json = Some(Podtop::start(&["--events", "file"]));
        }
        // The pod opens the inode first and again and again, through its link,
        // from its own mount namespace (as every container has one): open,
        // write 100 bytes, close, WRITES times, 20 ms apart.
        let writer = script("reopening_writer.py");
        let times = WRITES.to_string();
        let mut in_pod = pod.command(&["unshare", "--mount", "--propagation", "private", "python3", &writer, innocent.to_str().unwrap(), &times]);
        in_pod.current_dir(&dir.0);
        let mut in_pod = start_writer(in_pod);
        let mut on_host = Command::new("python3");
        on_host.args([&writer, real.to_str().unwrap(), &times]);
        let mut on_host = start_writer(on_host);
        let (pod_pid, host_pid) = (in_pod.0.id(), on_host.0.id());
        assert!(in_pod.0.wait().unwrap().success() && on_host.0.wait().unwrap().success());
        std::thread::sleep(Duration::from_millis(1300)); // the next read of the kernel's file counters

        let records: Vec<Value> = match (json.as_mut(), screen.as_mut()) {
            (Some(json), _) => json.stop(),
            (_, Some(screen)) => {
                let status = wait_timeout(&mut screen.child, Duration::from_secs(15));
                assert!(status.is_some_and(|s| s.success()), "the TUI run ends: {status:?}; {}", screen.said());
                std::fs::read_to_string(&recording).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
            }
            _ => unreachable!(),
        };
        let mode = if tui { "TUI" } else { "--json" };
        let ino = std::fs::metadata(&real).unwrap().ino();
        let (host_paths, host_written) = file_io_of(&records, host_pid, ino);
        let (pod_paths, pod_written) = file_io_of(&records, pod_pid, ino);
        assert_eq!(host_paths, vec![format!("{real:?}")], "{mode}: the host's writes carry the name the host opened it by");
        assert_eq!(pod_paths, vec![format!("{innocent:?}")], "{mode}: the pod's carry its own name for it");
        assert_eq!((host_written, pod_written), (WRITES * 100, WRITES * 100), "{mode}: every byte counted, to its writer");
    }
    assert!(loaded_podtop_programs().is_empty());
}

#[test]
fn programs_run_from_a_memfd_or_a_deleted_file_are_marked_fileless() {
    require_root();
    let dir = OpenDir::new("fileless");
    let marker = format!("podtop-fileless-{}", hex(8));
    let doomed = dir.0.join("doomed");
    let mut podtop = Podtop::start(&["--events", "exec"]);
    // /bin/true run from a memfd named "payload" (as /proc/self/fd/N), and
    // from a copy opened, deleted and run through its descriptor (fexecve).
    for how in ["memfd", doomed.to_str().unwrap()] {
        let out = Command::new("python3").args([&script("fileless_exec.py"), &marker, how]).output().unwrap();
        assert!(out.status.success(), "{how}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(Command::new("/bin/true").arg(&marker).status().unwrap().success());
    let is_marked = |r: &Value| r["type"] == "exec" && r["exec"]["args"][1] == marker.as_str();
    podtop.wait_for(Duration::from_secs(5), |r| is_marked(r) && r["exec"]["filename"] == "/bin/true");
    let records = podtop.stop();
    let execs: Vec<&Value> = records.iter().filter(|r| is_marked(r)).collect();
    let by_argv0 = |name: &str| *execs.iter().find(|r| r["exec"]["args"][0] == name).unwrap_or_else(|| panic!("the exec of {name}: {execs:#?}"));

    let memfd = by_argv0("payload");
    assert_eq!(memfd["exec"]["fileless"], true, "{memfd}");
    assert_eq!(memfd["exec"]["fileless_name"], "memfd:payload", "{memfd}");
    assert!(memfd["exec"]["filename"].as_str().unwrap().starts_with("/proc/self/fd/"), "{memfd}");

    let deleted = by_argv0("doomed");
    assert_eq!(deleted["exec"]["fileless"], true, "{deleted}");
    assert_eq!(deleted["exec"]["fileless_name"], "doomed", "the deleted file's last name: {deleted}");

    let normal = by_argv0("/bin/true");
    assert_eq!(normal["exec"]["fileless"], false, "{normal}");
    assert!(normal["exec"].get("fileless_name").is_none(), "{normal}");
    // The python that did it ran from its file on disk.
    assert!(of_type(&records, "exec").filter(|r| r["exec"]["args"][0] == "python3").all(|r| r["exec"]["fileless"] == false));
    assert!(loaded_podtop_programs().is_empty());
}
