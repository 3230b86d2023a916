//! Least privilege, proven. podtop is run with exactly the capabilities
//! deploy/podtop.yaml grants its container (`securityContext.capabilities.add`,
//! read from the manifest itself), as the manifest's user, with no new
//! privileges: those capabilities are its bounding, permitted, effective,
//! inheritable and ambient sets, and it has no other. In all three modes
//! (`--json`, the TUI's `--dump-screen`, `serve --metrics`) it must do its
//! work on a test pod; then each capability is taken away in turn and the
//! same checks run again: every capability the manifest keeps must make some
//! named check fail when it is missing, so the manifest carries nothing
//! podtop does not need. The table of what broke is printed.
//!
//! Beside it, for the record (printed, not asserted): what each set lets a
//! process holding it reach of other processes, which is what a compromised
//! podtop could do with it.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/podtop.yaml");
const PYTHON: &str = "/usr/bin/python3";
/// The unprivileged user of the pods' second listener and file holder.
const USER: u32 = 1000;
const ROOT_PORT: u16 = 7200;
const USER_PORT: u16 = 7201;
/// What one round waits for its records, at most.
const ROUND: Duration = Duration::from_secs(8);

/// What the DaemonSet's podtop container runs with.
#[derive(Debug)]
struct Grant {
    uid: u32,
    gid: u32,
    /// As the manifest spells them: BPF, PERFMON...
    capabilities: Vec<String>,
}

/// A line's text before any comment, without quotes.
fn bare(line: &str) -> &str {
    line.split(" #").next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `securityContext.capabilities.add` and `runAsUser`/`runAsGroup` of the
/// manifest's one container, read line by line (block or flow list).
fn manifest_grant() -> Grant {
    let text = fs::read_to_string(MANIFEST).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).collect();
    let at = |key: &str| -> Vec<usize> { lines.iter().enumerate().filter(|(_, l)| l.trim_start().starts_with(key)).map(|(i, _)| i).collect() };
    let contexts = at("capabilities:");
    assert_eq!(contexts.len(), 1, "one container with capabilities in {MANIFEST}");
    let caps = contexts[0];
    let add = (caps + 1..lines.len())
        .take_while(|i| indent(lines[*i]) > indent(lines[caps]))
        .find(|i| lines[*i].trim_start().starts_with("add:"))
        .expect("capabilities.add in the manifest");
    let mut capabilities = Vec::new();
    let inline = bare(lines[add].trim_start().trim_start_matches("add:"));
    if !inline.is_empty() {
        let list = inline.strip_prefix('[').and_then(|l| l.strip_suffix(']')).expect("add: a list");
        capabilities.extend(list.split(',').map(|c| bare(c).to_string()).filter(|c| !c.is_empty()));
    } else {
        for line in &lines[add + 1..] {
            let Some(item) = line.trim_start().strip_prefix("- ") else { break };
            if indent(line) < indent(lines[add]) {
                break;
            }
            capabilities.push(bare(item).to_string());
        }
    }
    assert!(!capabilities.is_empty(), "capabilities.add lists none");
    for cap in &capabilities {
        assert!(cap.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "not a capability name: {cap:?}");
    }
    let number = |key: &str| -> Option<u32> {
        let found = at(key);
        assert!(found.len() <= 1, "{key} once in the manifest");
        found.first().map(|i| bare(lines[*i].trim_start().trim_start_matches(key)).parse().expect("a number"))
    };
    // Without runAsUser the image's user runs it: the Containerfile names none, so root.
    Grant { uid: number("runAsUser:").unwrap_or(0), gid: number("runAsGroup:").unwrap_or(0), capabilities }
}

/// `program args` as `grant`'s user holding exactly `caps` in every set, with
/// no new privileges (allowPrivilegeEscalation: false), SIGHUP at its default.
fn confined(grant: &Grant, caps: &[&str], program: &str, args: &[&str]) -> Command {
    let set: Vec<String> = std::iter::once("-all".to_string()).chain(caps.iter().map(|c| format!("+{}", c.to_lowercase()))).collect();
    let set = set.join(",");
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={}", grant.uid))
        .arg(format!("--regid={}", grant.gid))
        .arg("--clear-groups")
        .arg("--no-new-privs")
        .arg(format!("--inh-caps={set}"))
        .arg(format!("--ambient-caps={set}"))
        .arg(format!("--bounding-set={set}"))
        .arg(program)
        .args(args);
    // SAFETY: signal() is async-signal-safe, fit for between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    command
}

/// A confined podtop: its output lines and stderr as they come; killed and
/// reaped on drop, also when the test fails half-way.
struct Confined {
    child: Killed,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Confined {
    fn start(mut command: Command) -> Confined {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("setpriv");
        let (lines, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(String::new())));
        let (out, sink) = (child.stdout.take().unwrap(), lines.clone());
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let (err, sink) = (child.stderr.take().unwrap(), stderr.clone());
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Confined { child: Killed(child), lines, stderr, status: None }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn records(&self) -> Vec<Value> {
        self.lines().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Its last line on stderr: why it stopped, where it did.
    fn said(&self) -> String {
        self.stderr.lock().unwrap().lines().last().unwrap_or("(nothing on stderr)").to_string()
    }

    fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.0.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    /// Sends `signal` unless it has ended, and waits up to `within` for its end.
    fn stop(&mut self, signal: Option<i32>, within: Duration) -> Option<ExitStatus> {
        if !self.has_exited() {
            if let Some(signal) = signal {
                // SAFETY: signalling our own child (setpriv has exec'd podtop in its place).
                unsafe { libc::kill(self.child.0.id() as i32, signal) };
            }
            self.status = wait_timeout(&mut self.child.0, within);
        }
        // Its readers see the pipes close once it has ended.
        thread::sleep(Duration::from_millis(100));
        self.status
    }
}

/// Starts `command` (a server or holder that prints "ready"), killed on drop.
fn ready(command: &mut Command, what: &str) -> Killed {
    let mut child = Killed(command.stdout(Stdio::piped()).spawn().unwrap());
    let mut first = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "ready", "{what} started");
    child
}

/// `argv` as the unprivileged USER, with no capability.
fn as_user(argv: &[&str]) -> Vec<String> {
    let mut all: Vec<String> =
        ["setpriv", &format!("--reuid={USER}"), &format!("--regid={USER}"), "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    all.extend(argv.iter().map(|s| s.to_string()));
    all
}

/// The node as the rounds find it: two linked pods, listeners and open files
/// older than every podtop of the test, a real runc container, a root daemon.
struct Node<'a> {
    grant: &'a Grant,
    dir: &'a OpenDir,
    client: &'a Pod,
    server: &'a Pod,
    server_addr: String,
    root_listener: u32,
    user_listener: u32,
    root_holder: u32,
    user_holder: u32,
    held_by_root: String,
    held_by_user: String,
    container_id: String,
    /// A root process with every capability, as a node's daemons are.
    daemon: u32,
}

type Checks = Vec<(&'static str, Result<(), String>)>;

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// The first record of `kind` that `pred` takes.
fn find<'a>(records: &'a [Value], kind: &str, pred: impl Fn(&Value) -> bool) -> Option<&'a Value> {
    of_type(records, kind).find(|r| pred(r))
}

impl Node<'_> {
    /// One round: podtop in its three modes with `caps`, the pods' work, the checks.
    fn round(&self, caps: &[&str], round: usize) -> Checks {
        let podtop = |args: &[&str]| Confined::start(confined(self.grant, caps, PODTOP, args));
        let port = free_port();
        let metrics = format!("127.0.0.1:{port}");
        let marker = format!("podtop-privilege-{round}");
        let opened = self.dir.0.join(format!("opened-{round}")).display().to_string();
        fs::write(&opened, "some bytes\n").unwrap();
        let mut json = podtop(&["--json", "--events", "exec,file,net", "--interval", "0.5"]);
        let mut serve = podtop(&["serve", "--metrics", &metrics, "--events", "exec,file,net", "--interval", "0.5"]);
        // The TUI on the test pod alone (other tests' pods on this machine may
        // be busier), its drill-down open: processes, files, connections.
        let mut tui = podtop(&["--events", "exec,file,net", "--pod", &self.client.uid, "--dump-screen", "200x60", "--duration", "8", "--keys", "\n"]);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(20);
        // serve answers before its programs are attached: it is up once the
        // pod's file reads (its holders read all along) have a series.
        let series = format!("pod_uid=\"{}\"", self.client.uid);
        while Instant::now() < deadline {
            let json_up = json.has_exited() || json.records().iter().any(|r| r["type"] == "start");
            let serve_up = serve.has_exited() || get(port, "/metrics").is_some_and(|(_, body)| body.contains(&series));
            if json_up && serve_up {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }

        // The pods' work, once podtop watches (or has given up).
        self.client.run(&["/bin/echo", &marker]);
        self.client.run(&["/bin/cat", &opened]);
        self.client.run(&[PYTHON, &script_in(self.dir, "connect.py"), &self.server_addr, &ROOT_PORT.to_string(), &USER_PORT.to_string()]);
        sh(&format!("runc exec {} /bin/echo {marker}", self.container_id));
        let worked = Instant::now();

        let client_uid = self.client.uid.as_str();
        let evaluate = |records: &[Value], metrics: &Option<(u16, String)>, json_said: &str, serve_said: &str| -> Checks {
            let in_client = |r: &Value| r["pod"]["uid"] == client_uid;
            let exec = find(records, "exec", |r| r["exec"]["args"][1] == marker.as_str() && in_client(r));
            let open = find(records, "open", |r| r["file"]["path"] == opened.as_str() && r["process"]["comm"] == "cat");
            let connect = find(records, "connect", |r| in_client(r) && r["net"]["daddr"] == self.server_addr.as_str() && r["net"]["dport"] == ROOT_PORT);
            let accept = |port: u16| find(records, "accept", |r| r["net"]["sport"] == port && r["pod"]["uid"] == self.server.uid.as_str());
            let held = |pid: u32, path: &str| -> Result<(), String> {
                let io: Vec<&Value> = of_type(records, "file_io").filter(|r| r["process"]["pid"] == pid).collect();
                let named = io.iter().find(|r| r["file"]["path"] == path && r["file"]["read_bytes"].as_u64() > Some(0));
                check(named.is_some(), || match io.first() {
                    Some(r) => format!("its reads are counted, unnamed: file {}", r["file"]),
                    None => "no file_io record of its reads".into(),
                })
            };
            let in_container = find(records, "exec", |r| r["exec"]["args"][1] == marker.as_str() && r["container"]["id"] == self.container_id.as_str());
            vec![
                ("json: starts", check(records.iter().any(|r| r["type"] == "start"), || json_said.to_string())),
                (
                    "json: exec in the pod, exactly",
                    check(
                        exec.is_some_and(|r| {
                            r["exec"]["args"] == serde_json::json!(["/bin/echo", marker])
                                && r["exec"]["filename"] == "/bin/echo"
                                && r["container"]["id"] == self.client.container_id.as_str()
                                && r["cgroup"]["id"] == self.client.cgroup_id()
                        }),
                        || exec.map_or("no exec record".into(), |r| r.to_string()),
                    ),
                ),
                (
                    "json: open in the pod, exactly",
                    check(
                        open.is_some_and(|r| in_client(r) && r["file"]["flags_text"] == "O_RDONLY" && r["file"]["ret"].as_i64() >= Some(0)),
                        || open.map_or("no open record".into(), |r| r.to_string()),
                    ),
                ),
                (
                    "json: connect names the peer pod",
                    check(connect.is_some_and(|r| r["peer"]["pod"]["uid"] == self.server.uid.as_str()), || match connect {
                        Some(r) => format!("peer {}", r["peer"]),
                        None => "no connect record".into(),
                    }),
                ),
                (
                    "json: accept names the owner of a root listener older than podtop",
                    check(accept(ROOT_PORT).is_some_and(|r| r["process"]["pid"] == self.root_listener), || match accept(ROOT_PORT) {
                        Some(r) => format!("process {}", r["process"]),
                        None => "no accept record".into(),
                    }),
                ),
                (
                    "json: accept names the owner of a non-root listener older than podtop",
                    check(accept(USER_PORT).is_some_and(|r| r["process"]["pid"] == self.user_listener && r["process"]["uid"] == USER), || match accept(USER_PORT) {
                        Some(r) => format!("process {}", r["process"]),
                        None => "no accept record".into(),
                    }),
                ),
                ("json: names a file a root process opened before podtop", held(self.root_holder, &self.held_by_root)),
                ("json: names a file a non-root process opened before podtop", held(self.user_holder, &self.held_by_user)),
                (
                    "json: names a runc container from the runtime's state",
                    check(
                        in_container.is_some_and(|r| r["container"]["name"] == "app" && r["pod"]["name"] == "web-0" && r["pod"]["namespace"] == "shop"),
                        || match in_container {
                            Some(r) => format!("container {} pod {}", r["container"], r["pod"]),
                            None => "no exec record in the container".into(),
                        },
                    ),
                ),
                ("serve: /metrics answers", check(metrics.as_ref().is_some_and(|(status, _)| *status == 200), || serve_said.to_string())),
                (
                    "serve: the pod's series",
                    check(
                        metrics.as_ref().is_some_and(|(_, body)| body.lines().any(|l| l.starts_with("podtop_execs_total{") && l.contains(&series))),
                        || match metrics {
                            Some((_, body)) => format!(
                                "no podtop_execs_total series of the pod among {} lines, {} of them the pod's: {:?}",
                                body.lines().count(),
                                body.lines().filter(|l| l.contains(&series)).count(),
                                body.lines().filter(|l| l.starts_with("podtop_execs_total")).take(5).collect::<Vec<_>>()
                            ),
                            None => "no answer".into(),
                        },
                    ),
                ),
            ]
        };
        let all_ok = |checks: &Checks| checks.iter().all(|(_, r)| r.is_ok());
        let mut checks;
        loop {
            let records = json.records();
            checks = evaluate(&records, &get(port, "/metrics"), "", "");
            if all_ok(&checks) || Instant::now() > worked + ROUND || (json.has_exited() && serve.has_exited()) {
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
        let metrics_body = get(port, "/metrics");
        let json_status = json.stop(Some(libc::SIGINT), Duration::from_secs(10));
        serve.stop(Some(libc::SIGTERM), Duration::from_secs(10));
        let tui_status = tui.stop(None, Duration::from_secs(20));
        let records = json.records();
        checks = evaluate(&records, &metrics_body, &json.said(), &serve.said());

        let schema = schema_validator();
        let misfits: Vec<String> = records.iter().filter(|r| !schema.is_valid(r)).map(|r| r.to_string()).take(3).collect();
        checks.push(("json: records fit the published schema", check(misfits.is_empty(), || misfits.join("\n"))));
        checks.push(("json: exits 0 on SIGINT", check(json_status.is_some_and(|s| s.success()), || format!("{json_status:?}: {}", json.said()))));
        let screen = tui.lines().join("\n");
        checks.push(("tui: runs its --duration, exits 0", check(tui_status.is_some_and(|s| s.success()), || format!("{tui_status:?}: {}", tui.said()))));
        let pod_line = format!("pod {}", &client_uid[..8]);
        let on_screen = |what: &str| check(screen.contains(what), || format!("no {what:?} on the screen:\n{screen}"));
        checks.push(("tui: the pod on screen", on_screen(&pod_line)));
        checks.push(("tui: names a file a root process opened before podtop", on_screen(&self.held_by_root)));
        checks.push(("tui: names a file a non-root process opened before podtop", on_screen(&self.held_by_user)));
        let to_server = format!("{}:{ROOT_PORT}", self.server_addr);
        let peer = &self.server.uid[..8];
        checks.push((
            "tui: a connection names the peer pod",
            check(screen.lines().any(|l| l.contains(&to_server) && l.contains(peer)), || {
                format!("{:?}", screen.lines().find(|l| l.contains(&to_server)).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")))
            }),
        ));
        checks
    }

    /// What a process holding `caps` reaches of others (a compromised podtop's
    /// reach): (what, whether it could).
    fn reach(&self, caps: &[&str]) -> Vec<(&'static str, bool)> {
        let runs = |program: &str, args: &[&str]| {
            confined(self.grant, caps, program, args).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success()
        };
        let through_root = |name: &str| format!("/proc/{}/root{}", self.daemon, self.dir.0.join(name).display());
        vec![
            ("read root's 0600 file via a root daemon's /proc/PID/root", runs("/bin/cat", &[&through_root("secret-root")])),
            ("read a user's 0600 file via /proc/PID/root", runs("/bin/cat", &[&through_root("secret-user")])),
            ("ptrace a root daemon (PTRACE_SEIZE)", runs(PYTHON, &[&script_in(self.dir, "ptrace_seize.py"), &self.daemon.to_string()])),
        ]
    }
}

#[test]
fn the_manifests_capabilities_are_enough_and_each_is_needed() {
    require_root();
    let grant = manifest_grant();
    let dir = OpenDir::new("privilege");
    let mut client = Pod::new("priv-client");
    let mut server = Pod::new("priv-server");
    link(&mut client, &mut server, 95);
    let server_addr = server.addr.clone().unwrap();

    // Listeners older than any podtop of the test: one root's, one a user's
    // (the scripts are copied where the user reaches them).
    let port = |p: u16| p.to_string();
    let (listener, holder) = (script_in(&dir, "listener.py"), script_in(&dir, "holder.py"));
    let root_listener = ready(server.command(&[PYTHON, &listener, &server_addr, &port(ROOT_PORT)]).current_dir(&dir.0), "the root listener");
    let user_argv = as_user(&[PYTHON, &listener, &server_addr, &port(USER_PORT)]);
    let user_argv: Vec<&str> = user_argv.iter().map(String::as_str).collect();
    let user_listener = ready(server.command(&user_argv).current_dir(&dir.0), "the user's listener");
    // Files opened before any podtop of the test and read all along: one by root, one by a user.
    let held = |name: &str| {
        let path = dir.0.join(name);
        fs::write(&path, "held open\n".repeat(6000)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path.display().to_string()
    };
    let (held_by_root, held_by_user) = (held("held-by-root"), held("held-by-user"));
    let root_holder = ready(client.command(&[PYTHON, &holder, &held_by_root]).current_dir(&dir.0), "the root holder");
    let user_argv = as_user(&[PYTHON, &holder, &held_by_user]);
    let user_argv: Vec<&str> = user_argv.iter().map(String::as_str).collect();
    let user_holder = ready(client.command(&user_argv).current_dir(&dir.0), "the user's holder");

    // A real runc container, named only by runc's state and its bundle.
    let spec = podtop::sandbox::PodSpec {
        name: "web-0".into(),
        namespace: "shop".into(),
        uid: podtop::sandbox::random_uid(),
        qos: podtop::enrich::cgroup_path::QosClass::BestEffort,
    };
    let mut web = podtop::sandbox::Pod::create(spec, &format!("podtop-privweb-{}", hex(6))).expect("a sandbox pod");
    let container = podtop::sandbox::runc::Container {
        id: hex(64),
        name: "app".into(),
        args: vec!["/bin/sleep".into(), "3600".into()],
        rootfs: podtop::sandbox::runc::Rootfs::Busybox,
        bundle: dir.0.join("bundle"),
        files: Vec::new(),
    };
    web.run_container(&container).expect("runc starts the container");

    // A root daemon with every capability, and private files of root's and a user's.
    let daemon = Killed(Command::new("sleep").arg("600").spawn().unwrap());
    for (name, owner) in [("secret-root", 0), ("secret-user", USER)] {
        let path = dir.0.join(name);
        fs::write(&path, "private\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(owner), Some(owner)).unwrap();
    }

    let node = Node {
        grant: &grant,
        dir: &dir,
        client: &client,
        server: &server,
        server_addr: server_addr.clone(),
        root_listener: root_listener.0.id(),
        user_listener: user_listener.0.id(),
        root_holder: root_holder.0.id(),
        user_holder: user_holder.0.id(),
        held_by_root,
        held_by_user,
        container_id: container.id.clone(),
        daemon: daemon.0.id(),
    };

    let manifest: Vec<&str> = grant.capabilities.iter().map(String::as_str).collect();
    let granted = node.round(&manifest, 0);
    let granted_reach = node.reach(&manifest);
    let mut rows = Vec::new();
    for (i, missing) in manifest.iter().enumerate() {
        let fewer: Vec<&str> = manifest.iter().copied().filter(|c| c != missing).collect();
        let checks = node.round(&fewer, i + 1);
        rows.push((*missing, checks, node.reach(&fewer)));
    }

    // The table: each capability, what broke without it.
    let mut table = format!("\npodtop as uid {} with the manifest's capabilities ({}):\n", grant.uid, manifest.join(", "));
    for (name, result) in &granted {
        table += &format!("  {} {name}{}\n", if result.is_ok() { "ok  " } else { "FAIL" }, result.as_ref().err().map(|e| format!(": {e}")).unwrap_or_default());
    }
    table += "\n| capability | what breaks without it |\n|---|---|\n";
    let mut why = String::new();
    for (missing, checks, _) in &rows {
        let broke: Vec<(&str, &String)> = checks.iter().filter_map(|(name, r)| r.as_ref().err().map(|e| (*name, e))).collect();
        let said = if broke.is_empty() {
            "nothing".to_string()
        } else if let Some((_, e)) = broke.iter().find(|(name, _)| *name == "json: starts") {
            format!("podtop does not start, in any mode ({} of {} checks fail): {e}", broke.len(), checks.len())
        } else {
            for (name, e) in &broke {
                let first = e.lines().next().unwrap_or_default();
                why += &format!("  without {missing}, {name}: {}\n", first.chars().take(240).collect::<String>());
            }
            broke.iter().map(|(name, _)| *name).collect::<Vec<_>>().join("; ")
        };
        table += &format!("| {missing} | {said} |\n");
    }
    table += &why;
    table += "\nWhat the set lets a process reach (a compromised podtop's reach):\n| set | ";
    table += &granted_reach.iter().map(|(what, _)| *what).collect::<Vec<_>>().join(" | ");
    table += " |\n";
    let yes_no = |reach: &[(&str, bool)]| reach.iter().map(|(_, could)| if *could { "yes" } else { "no" }).collect::<Vec<_>>().join(" | ");
    table += &format!("| the manifest's | {} |\n", yes_no(&granted_reach));
    for (missing, _, reach) in &rows {
        table += &format!("| without {missing} | {} |\n", yes_no(reach));
    }
    println!("{table}");

    let failed: Vec<String> = granted.iter().filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}"))).collect();
    assert!(failed.is_empty(), "with the manifest's capabilities: {failed:#?}{table}");
    let unneeded: Vec<&str> = rows.iter().filter(|(_, checks, _)| checks.iter().all(|(_, r)| r.is_ok())).map(|(cap, _, _)| *cap).collect();
    assert!(unneeded.is_empty(), "deploy/podtop.yaml grants {unneeded:?}, which no check needs: drop it{table}");
}
