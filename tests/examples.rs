//! examples/: each example run as a user would run it, against real test
//! pods (network namespaces, kubelet-shaped cgroups, runc containers that
//! name them), with real servers and clients, its output checked to the
//! line: which requests, which pods, which counts, which CSV rows. And what
//! each one says to bad input: one line, and a non-zero status.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use podtop::enrich::cgroup_path::QosClass;
use podtop::sandbox::runc::{Container, Rootfs};
use podtop::sandbox::PodSpec;
use serde_json::Value;

const PYTHON: &str = "/usr/bin/python3";
const CURL: &str = "/usr/bin/curl";
const HTTP_PORT: &str = "8080";

/// The examples' binaries, built beside podtop with its profile (make test
/// builds them first; here too, in case the tests run alone).
fn example(name: &str) -> PathBuf {
    static BUILT: Once = Once::new();
    let profile_dir = Path::new(PODTOP).parent().unwrap();
    BUILT.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--locked", "--examples"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("running cargo");
        assert!(status.success(), "cargo build --examples failed");
    });
    let binary = profile_dir.join("examples").join(name);
    assert!(binary.is_file(), "no example binary {}", binary.display());
    binary
}

fn test_script(name: &str) -> String {
    format!("{}/tests/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn shell_example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A pod with names, as a CRI runtime gives them: each container a runc
/// container (busybox, asleep) whose bundle carries the pod's and the
/// container's names; the test's servers and clients join a container's
/// cgroup and the pod's network namespace. Dropping it kills what runs in
/// it and removes its containers, cgroups and namespace.
struct NamedPod {
    /// `namespace/name`, as the examples print it.
    name: String,
    addrs: Vec<String>,
    containers: Vec<(String, String)>,
    sandbox: podtop::sandbox::Pod,
}

impl NamedPod {
    fn new(dir: &OpenDir, namespace: &str, name: &str, containers: &[&str]) -> NamedPod {
        let spec = PodSpec { name: name.into(), namespace: namespace.into(), uid: podtop::sandbox::random_uid(), qos: QosClass::BestEffort };
        let mut sandbox = podtop::sandbox::Pod::create(spec, &format!("podtop-ex-{}", hex(6))).expect("a sandbox pod");
        let mut cgroups = Vec::new();
        for container in containers {
            let id = hex(64);
            let runc = Container {
                id: id.clone(),
                name: container.to_string(),
                args: vec!["/bin/sleep".into(), "3600".into()],
                rootfs: Rootfs::Busybox,
                bundle: dir.0.join(format!("{name}-{container}-{}", &id[..8])),
                files: Vec::new(),
            };
            sandbox.run_container(&runc).expect("runc starts the container");
            cgroups.push((container.to_string(), sandbox.spec.container_cgroup(&id)));
        }
        NamedPod { name: format!("{namespace}/{name}"), addrs: Vec::new(), containers: cgroups, sandbox }
    }

    fn cgroup(&self, container: &str) -> &str {
        &self.containers.iter().find(|(name, _)| name == container).unwrap_or_else(|| panic!("no container {container}")).1
    }

    /// `argv` in `container` of the pod.
    fn command(&self, container: &str, argv: &[&str]) -> Command {
        self.sandbox.command(self.cgroup(container), argv)
    }

    /// `argv` in `container`, to its end; its stdout.
    fn run(&self, container: &str, argv: &[&str]) -> String {
        let out = self.command(container, argv).output().unwrap();
        assert!(out.status.success(), "{argv:?} in {}/{container} failed: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A server in `container` that prints "ready" once it listens: killed when dropped.
    fn serve(&self, container: &str, argv: &[&str]) -> Killed {
        let mut child = self.command(container, argv).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "{argv:?} in {}/{container}", self.name);
        Killed(child)
    }

    /// GET (or `method`) `path` on `server` from `container`, one connection; the status.
    fn curl(&self, container: &str, method: &str, server: &NamedPod, path: &str) -> String {
        let url = format!("http://{}:{HTTP_PORT}{path}", server.addr_seen_by(self));
        let mut argv = vec![CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, &url];
        if method == "POST" {
            argv.extend(["--data", "item=1"]);
        }
        self.run(container, &argv)
    }

    /// The address of this pod on the link it shares with `other`.
    fn addr_seen_by(&self, other: &NamedPod) -> String {
        self.addrs.iter().find(|a| other.addrs.iter().any(|b| same_subnet(a, b))).cloned().expect("the pods are linked")
    }
}

fn same_subnet(a: &str, b: &str) -> bool {
    a.rsplit_once('.').map(|(net, _)| net) == b.rsplit_once('.').map(|(net, _)| net)
}

/// A veth pair between two pods: 10.244.`subnet`.1 in `a`, .2 in `b`.
/// (Subnets 201 and up: no other test uses them, so no two namespaces on the
/// node own the same address while these tests run.)
fn link(a: &mut NamedPod, b: &mut NamedPod, subnet: u8) {
    let (a_addr, b_addr) = (format!("10.244.{subnet}.1"), format!("10.244.{subnet}.2"));
    podtop::sandbox::net::link(
        &a.sandbox.netns,
        &format!("px{}a", hex(6)),
        &[&format!("{a_addr}/24")],
        &b.sandbox.netns,
        &format!("px{}b", hex(6)),
        &[&format!("{b_addr}/24")],
    )
    .expect("linking two pods");
    a.addrs.push(a_addr);
    b.addrs.push(b_addr);
}

/// A Kubernetes namespace of the test's own: the examples filter on it, so
/// other tests' pods on the node stay out of what is asserted.
fn namespace(tag: &str) -> String {
    format!("ex-{tag}-{}", hex(6))
}

/// An example running as a child process, its stdout and stderr lines
/// collected as they come; killed when dropped.
struct Running {
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

fn collect_lines(from: impl Read + Send + 'static, into: &Arc<Mutex<Vec<String>>>) -> thread::JoinHandle<()> {
    let into = into.clone();
    thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    })
}

impl Running {
    fn start(binary: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(binary).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting the example");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let readers = vec![collect_lines(child.stdout.take().unwrap(), &stdout), collect_lines(child.stderr.take().unwrap(), &stderr)];
        Running { child: Some(child), stdout, stderr, readers }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Until `done` holds of the stdout lines so far (`what` names it in a failure).
    fn wait_for_stdout(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.stdout()) {
            assert!(Instant::now() < deadline, "no {what} within 20 s; stdout: {:#?}\nstderr: {:#?}", self.stdout(), self.stderr());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Until the example says on stderr that it watches (its probes are attached).
    fn wait_until_watching(&mut self, line_start: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.stderr().iter().any(|l| l.starts_with(line_start)) {
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(exited.is_none(), "the example ended with {exited:?}; stderr: {:#?}", self.stderr());
            assert!(Instant::now() < deadline, "the example did not start within 30 s; stderr: {:#?}", self.stderr());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGINT, as Ctrl-C: its status, stdout and stderr lines once it ended.
    fn interrupt(&mut self) -> (ExitStatus, Vec<String>, Vec<String>) {
        let mut child = self.child.take().expect("still running");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = wait_timeout(&mut child, Duration::from_secs(10)).unwrap_or_else(|| panic!("the example did not stop within 10 s of SIGINT; stderr: {:#?}", self.stderr()));
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        (status, self.stdout(), self.stderr())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A command run to its end: (status, stdout lines, stderr lines).
fn output(mut command: impl std::borrow::BorrowMut<Command>) -> (ExitStatus, Vec<String>, Vec<String>) {
    let out = command.borrow_mut().output().expect("running the example");
    let lines = |bytes: &[u8]| String::from_utf8_lossy(bytes).lines().map(str::to_string).collect::<Vec<_>>();
    (out.status, lines(&out.stdout), lines(&out.stderr))
}

/// Bad input: exactly one line on stderr, which is `expected`, and a failure status.
fn assert_refused(what: &str, (status, stdout, stderr): (ExitStatus, Vec<String>, Vec<String>), expected: &str) {
    assert!(!status.success() && status.code().is_some(), "{what}: exits with a failure status of its own, not {status}");
    assert_eq!(stderr, [expected], "{what}: one line on stderr");
    assert!(stdout.iter().all(|l| !l.contains("panicked")), "{what}: {stdout:?}");
}

/// A copy of `binary` that any user can run, wherever the checkout lives.
fn runnable_by_anyone(dir: &OpenDir, binary: &Path) -> PathBuf {
    let copy = dir.0.join(binary.file_name().unwrap());
    fs::copy(binary, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// `binary ARGS` as nobody, without any capability.
fn as_nobody(binary: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]).arg(binary).args(args);
    command
}

/// podtop --json with its stdout in a file: a recording, as a user makes one.
struct Recorder {
    child: Option<Child>,
    path: PathBuf,
}

impl Recorder {
    fn start(path: PathBuf, args: &[&str]) -> Recorder {
        let file = fs::File::create(&path).unwrap();
        let child = Command::new(PODTOP).arg("--json").args(args).stdout(file).stderr(Stdio::piped()).spawn().expect("starting podtop");
        let recorder = Recorder { child: Some(child), path };
        wait_until(Duration::from_secs(30), "start record", || recorder.records().first().is_some_and(|r| r["type"] == "start"));
        recorder
    }

    /// The complete lines written so far.
    fn records(&self) -> Vec<Value> {
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
        complete.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
    }

    /// SIGINT; its stderr once it ended successfully.
    fn stop(&mut self) -> String {
        let mut child = self.child.take().unwrap();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("podtop stops within 10 s of SIGINT");
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "podtop: {status}, {stderr}");
        stderr
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The latency column of a follow_http line ("1.84ms"): a number of milliseconds, or `-`.
fn without_latency(line: &str) -> String {
    let mut fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 7, "seven columns: {line}");
    let latency = fields[5];
    let ms: f64 = latency.strip_suffix("ms").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("a latency in ms: {line}"));
    assert!((0.0..1000.0).contains(&ms), "{line}");
    fields[5] = "LATENCY";
    fields.join(" ")
}

#[test]
fn follow_http_prints_each_request_of_one_pod_as_it_happens() {
    require_root();
    let binary = example("follow_http");
    let dir = OpenDir::new("ex-follow");
    let ns = namespace("follow");
    // A pod name of its own: --pod matches a name in any namespace.
    let web_pod = format!("web-{}", hex(6));
    let mut web = NamedPod::new(&dir, &ns, &web_pod, &["app"]);
    let mut client = NamedPod::new(&dir, &ns, "client", &["curl"]);
    let mut other = NamedPod::new(&dir, &ns, "other", &["app"]);
    link(&mut client, &mut web, 201);
    link(&mut client, &mut other, 202);
    link(&mut web, &mut other, 203);
    let server = test_script("http_server.py");
    let _web_server = web.serve("app", &[PYTHON, &server, HTTP_PORT]);
    let _other_server = other.serve("app", &[PYTHON, &server, HTTP_PORT]);

    let mut follow = Running::start(&binary, &[&web_pod]);
    follow.wait_until_watching(&format!("follow_http: following the HTTP requests of pod {web_pod} on "));
    let mut statuses = Vec::new();
    for (method, path) in [("GET", "/ok"), ("GET", "/ok"), ("GET", "/ok"), ("GET", "/missing"), ("POST", "/submit"), ("GET", "/err")] {
        statuses.push(client.curl("curl", method, &web, path));
    }
    // Requests web takes no part in: not shown.
    statuses.push(client.curl("curl", "GET", &other, "/ok"));
    statuses.push(client.curl("curl", "GET", &other, "/health"));
    // A request web makes: shown at web's client end.
    statuses.push(web.curl("app", "GET", &other, "/health?token=s3cret"));
    assert_eq!(statuses, ["200", "200", "200", "404", "200", "500", "200", "200", "200"]);
    follow.wait_for_stdout("seven request lines", |lines| lines.len() >= 7);
    thread::sleep(Duration::from_millis(500));
    let (status, stdout, stderr) = follow.interrupt();
    eprintln!("follow_http {web_pod}:\n{}", stdout.join("\n"));

    assert!(status.success(), "follow_http ends cleanly at Ctrl-C: {status}, {stderr:?}");
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    let (web_name, client_name, other_name) = (&web.name, &client.name, &other.name);
    let expected = [
        format!("{web_name} server GET /ok 200 LATENCY {client_name}"),
        format!("{web_name} server GET /ok 200 LATENCY {client_name}"),
        format!("{web_name} server GET /ok 200 LATENCY {client_name}"),
        format!("{web_name} server GET /missing 404 LATENCY {client_name}"),
        format!("{web_name} server POST /submit 200 LATENCY {client_name}"),
        format!("{web_name} server GET /err 500 LATENCY {client_name}"),
        // The query string (a token) is dropped, as podtop drops it.
        format!("{web_name} client GET /health 200 LATENCY {other_name}"),
    ];
    assert_eq!(stdout.iter().map(|l| without_latency(l)).collect::<Vec<_>>(), expected, "{stdout:#?}");

    // Bad input: one line each, and a failure status.
    assert_refused("no pod named", output(Command::new(&binary)), "follow_http: usage: follow_http POD [SECONDS]");
    assert_refused("too many arguments", output(Command::new(&binary).args(["web", "1", "2"])), "follow_http: usage: follow_http POD [SECONDS]");
    assert_refused(
        "a pod not on the node",
        output(Command::new(&binary).arg("no-such-pod-x1")),
        "follow_http: no pod \"no-such-pod-x1\" on this node",
    );
    assert_refused(
        "seconds that are no number",
        output(Command::new(&binary).args([&web_pod, "soon"])),
        "follow_http: invalid value 'soon' for '--duration <SECS>': \"soon\" is not a number of seconds",
    );
    let anyone = runnable_by_anyone(&dir, &binary);
    assert_refused(
        "not root",
        output(as_nobody(&anyone, &[&web_pod])),
        "follow_http: needs root (or CAP_BPF and CAP_PERFMON) to load its eBPF programs: run it with sudo",
    );
}

#[test]
fn error_rate_keeps_each_pods_running_error_rate_in_a_sink_of_its_own() {
    require_root();
    let binary = example("error_rate");
    let dir = OpenDir::new("ex-errors");
    let ns = namespace("errors");
    let mut api = NamedPod::new(&dir, &ns, "api", &["server"]);
    let mut auth = NamedPod::new(&dir, &ns, "auth", &["server"]);
    let mut client = NamedPod::new(&dir, &ns, "client", &["load"]);
    link(&mut client, &mut api, 204);
    link(&mut client, &mut auth, 205);
    let server = test_script("http_server.py");
    let _api_server = api.serve("server", &[PYTHON, &server, HTTP_PORT]);
    let _auth_server = auth.serve("server", &[PYTHON, &server, HTTP_PORT]);

    let mut rates = Running::start(&binary, &["--namespace", &ns, "--interval", "0.5"]);
    rates.wait_until_watching("error_rate: counting the HTTP requests each pod answers on ");
    // api: 6 answered 200, one 404 (the caller's mistake), 3 answered 500: 3 errors in 10.
    let mut statuses = Vec::new();
    for path in ["/ok", "/ok", "/err", "/ok", "/missing", "/ok", "/err", "/ok", "/ok", "/err"] {
        statuses.push(client.curl("load", "GET", &api, path));
    }
    // auth: 4 answered 200.
    for _ in 0..4 {
        statuses.push(client.curl("load", "GET", &auth, "/health"));
    }
    assert_eq!(statuses.iter().filter(|s| *s == "500").count(), 3);
    let (api_name, auth_name) = (&api.name, &auth.name);
    let api_total = format!("{api_name} requests=10 errors=3 error_rate=30.0%");
    let auth_total = format!("{auth_name} requests=4 errors=0 error_rate=0.0%");
    rates.wait_for_stdout("both pods' figures", |lines| {
        lines.iter().any(|l| l.ends_with(&format!(" {api_total}"))) && lines.iter().any(|l| l.ends_with(&format!(" {auth_total}")))
    });
    let (status, stdout, stderr) = rates.interrupt();
    eprintln!("error_rate --namespace {ns}:\n{}", stdout.join("\n"));

    assert!(status.success(), "error_rate ends cleanly at Ctrl-C: {status}, {stderr:?}");
    // The totals at the end, in the order of the pods' names; the client answered nothing.
    let totals: Vec<&String> = stdout.iter().filter(|l| l.starts_with("total ")).collect();
    assert_eq!(totals, [&format!("total {api_total}"), &format!("total {auth_total}")], "{stdout:#?}");
    // The running figures before them: each line "t=Ns POD ...", a pod's
    // requests never going down, its last line its total.
    let running: Vec<&String> = stdout.iter().filter(|l| !l.starts_with("total ")).collect();
    assert_eq!(running.len() + 2, stdout.len());
    let mut last: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for line in &running {
        let (t, rest) = line.split_once(' ').unwrap();
        assert!(t.starts_with("t=") && t.ends_with('s') && t[2..t.len() - 1].parse::<u64>().is_ok(), "{line}");
        let pod = rest.split(' ').next().unwrap();
        assert!(pod == api_name || pod == auth_name, "only pods that answered: {line}");
        let requests: u64 = rest.split(" requests=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        let before = last.insert(pod, (requests, rest)).map_or(0, |(n, _)| n);
        assert!(requests > before, "a pod is reported when its figures change, and they grow: {running:#?}");
    }
    assert_eq!(last[api_name.as_str()].1, api_total);
    assert_eq!(last[auth_name.as_str()].1, auth_total);

    // Bad input: one line each, and a failure status.
    assert_refused("an unknown flag", output(Command::new(&binary).arg("--bogus")), "error_rate: unexpected argument '--bogus' found");
    assert_refused(
        "a namespace with no pods",
        output(Command::new(&binary).args(["--namespace", "no-such-namespace-x1"])),
        "error_rate: no namespace \"no-such-namespace-x1\" on this node",
    );
    assert_refused(
        "a command instead of flags",
        output(Command::new(&binary).args(["replay", "x"])),
        "error_rate: collection options are podtop's flags, without a command",
    );
}

/// What examples/sidecar_bill.sh makes of `records`, computed here from
/// the records themselves: the rows it must print, to the character.
fn expected_bill_rows(records: &[Value]) -> Vec<String> {
    let quoted = |s: &str| format!("\"{s}\"");
    let or_blank = |v: &Value, f: &dyn Fn(&Value) -> String| if v.is_null() { quoted("") } else { f(v) };
    let milli = |v: &Value| or_blank(v, &|v| format!("{}", (v.as_f64().unwrap() * 1000.0).round() as i64));
    let micro = |v: &Value| or_blank(v, &|v| format!("{}", v.as_u64().unwrap() / 1000));
    let plain = |v: &Value| or_blank(v, &|v| v.to_string());
    let mut bills: Vec<&Value> = Vec::new();
    let mut rows = Vec::new();
    for r in records {
        match r["type"].as_str().unwrap() {
            "sidecar" => bills.push(r),
            "sidecars" => {
                for b in bills.drain(..) {
                    let s = &b["sidecar"];
                    let pod = format!("{}/{}", b["pod"]["namespace"].as_str().unwrap(), b["pod"]["name"].as_str().unwrap());
                    rows.push(
                        [
                            quoted(r["time"].as_str().unwrap()),
                            quoted(&pod),
                            quoted(b["container"]["name"].as_str().unwrap()),
                            quoted(s["hint"].as_str().unwrap_or("")),
                            milli(&s["cpu_cores"]),
                            plain(&s["memory_bytes"]),
                            plain(&s["rss_bytes"]),
                            micro(&s["added_latency_p50_ns"]),
                            micro(&s["added_latency_p99_ns"]),
                            plain(&s["exchanges"]),
                            plain(&s["relayed_connections"]),
                            milli(&r["podtop"]["cpu_cores"]),
                            plain(&r["podtop"]["rss_bytes"]),
                        ]
                        .join(","),
                    );
                }
            }
            _ => {}
        }
    }
    rows
}

const BILL_HEADER: &str = "\"time\",\"pod\",\"container\",\"hint\",\"cpu_millicores\",\"memory_bytes\",\"rss_bytes\",\"added_p50_us\",\"added_p99_us\",\"exchanges\",\"relayed\",\"podtop_cpu_millicores\",\"podtop_rss_bytes\"";

#[test]
fn sidecar_bill_turns_the_json_stream_into_one_csv_row_per_sidecar_and_interval() {
    require_root();
    let dir = OpenDir::new("ex-bill");
    let ns = namespace("bill");
    let mut web = NamedPod::new(&dir, &ns, "web", &["app", "proxy"]);
    let mut api = NamedPod::new(&dir, &ns, "api", &["server"]);
    link(&mut web, &mut api, 206);
    let _backend = api.serve("server", &[PYTHON, &test_script("relay_backend.py"), HTTP_PORT]);
    let config = dir.0.join("haproxy.cfg");
    fs::write(
        &config,
        format!(
            "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend app\n  bind 127.0.0.1:15001\n  default_backend upstream\n\
             backend upstream\n  server api {}:{HTTP_PORT}\n",
            api.addr_seen_by(&web)
        ),
    )
    .unwrap();

    let mut podtop = Recorder::start(dir.0.join("stream.jsonl"), &["--events", "net", "--namespace", &ns, "--interval", "1"]);
    let _haproxy = Killed(web.command("proxy", &["haproxy", "-db", "-f", config.to_str().unwrap()]).stderr(Stdio::null()).spawn().unwrap());
    wait_until(Duration::from_secs(30), "haproxy listening", || {
        Command::new("ip").args(["netns", "exec", &web.sandbox.netns, "ss", "-Hltn", "sport = :15001"]).output().is_ok_and(|o| !o.stdout.is_empty())
    });
    let client = test_script("relay_client.py");
    // A few requests make haproxy known as the sidecar, then 200 more, then
    // two more intervals so that every close is billed.
    assert_eq!(web.run("app", &[PYTHON, &client, "127.0.0.1", "15001", "5"]).trim(), "5");
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(web.run("app", &[PYTHON, &client, "127.0.0.1", "15001", "200"]).trim(), "200");
    thread::sleep(Duration::from_millis(2500));
    podtop.stop();
    let stream = fs::File::open(&podtop.path).unwrap();
    let (status, csv, stderr) = output(Command::new("sh").arg(shell_example("sidecar_bill.sh")).stdin(stream));

    eprintln!("sidecar_bill.sh:\n{}", csv.join("\n"));
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr:?}");
    assert_eq!(csv[0], BILL_HEADER);
    let rows = &csv[1..];
    assert_eq!(rows, expected_bill_rows(&podtop.records()), "every bill, its interval's podtop cost beside it");
    assert!(rows.len() >= 2, "a row each interval once haproxy is known: {rows:#?}");
    let columns: Vec<Vec<&str>> = rows.iter().map(|r| r.split(',').collect()).collect();
    let web_name = format!("\"{}\"", web.name);
    for row in &columns {
        assert_eq!(row.len(), 13, "{row:?}");
        assert_eq!((row[1], row[2], row[3]), (web_name.as_str(), "\"proxy\"", "\"haproxy\""), "only haproxy, by its pod's and container's names");
        for number in [row[4], row[6], row[11], row[12]] {
            assert!(number.parse::<u64>().is_ok() || number == "\"\"", "CPU, RSS and podtop's own figures: whole numbers, or blank: {row:?}");
        }
        assert!(row[12].parse::<u64>().unwrap() > 0, "podtop's own RSS: {row:?}");
    }
    let relayed: u64 = columns.iter().map(|row| row[10].parse::<u64>().unwrap()).sum();
    assert_eq!(relayed, 205, "every connection the app made through it, once");
    let exchanges: u64 = columns.iter().map(|row| row[9].parse::<u64>().unwrap()).sum();
    assert_eq!(exchanges, 205, "one request and its response per connection");

    // The same stream piped in as it is written: the same rows.
    let (_, piped, _) = output(Command::new("sh").arg("-c").arg(format!("cat {} | sh {}", podtop.path.display(), shell_example("sidecar_bill.sh"))));
    assert_eq!(piped, csv);

    // Bad input: one line each, and a failure status.
    let bill = |input: &str| {
        let file = dir.0.join("bad.jsonl");
        fs::write(&file, input).unwrap();
        output(Command::new("sh").arg(shell_example("sidecar_bill.sh")).stdin(fs::File::open(file).unwrap()))
    };
    let first = fs::read_to_string(&podtop.path).unwrap().lines().next().unwrap().to_string();
    assert_refused("a line that is not JSON", bill(&format!("{first}\nnot json\n")), "sidecar_bill.sh: line 2 is not JSON");
    assert_refused("JSON that is no record", bill(&format!("{first}\n[1, 2]\n")), "sidecar_bill.sh: line 2 is not a podtop record");
    assert_refused(
        "JSON that is not podtop's",
        bill("{\"type\":\"sidecars\"}\n"),
        "sidecar_bill.sh: stdin is not podtop --json output: its first line is not a start record",
    );
    assert_refused("nothing", bill(""), "sidecar_bill.sh: no records on stdin");
    assert_refused(
        "an argument",
        output(Command::new("sh").args([&shell_example("sidecar_bill.sh"), "stream.jsonl"])),
        "sidecar_bill.sh: reads podtop --json on stdin and takes no arguments (usage: podtop --json | sh sidecar_bill.sh)",
    );
}

#[test]
fn who_answers_from_a_recording_without_root_which_pod_opened_a_file_and_who_called_an_endpoint() {
    require_root();
    let binary = example("who");
    let dir = OpenDir::new("ex-who");
    let ns = namespace("who");
    let mut web = NamedPod::new(&dir, &ns, "web", &["app"]);
    let mut batch = NamedPod::new(&dir, &ns, "batch", &["job"]);
    let mut api = NamedPod::new(&dir, &ns, "api", &["server"]);
    link(&mut web, &mut api, 207);
    link(&mut batch, &mut api, 208);
    let _api_server = api.serve("server", &[PYTHON, &test_script("http_server.py"), HTTP_PORT]);
    let data = dir.0.join("orders.db");
    fs::write(&data, "order 1\n").unwrap();
    let data = data.display().to_string();

    let recording = dir.0.join("minute.jsonl");
    let mut podtop = Recorder::start(recording.clone(), &["--events", "file,net,http", "--namespace", &ns]);
    let open_file = test_script("open_file.py");
    assert_eq!(web.run("app", &[PYTHON, &open_file, &data, "3"]).trim(), "done");
    assert_eq!(batch.run("job", &[PYTHON, &open_file, &data, "1", "exclusive"]).trim(), "done");
    let mut statuses = Vec::new();
    for path in ["/orders", "/orders", "/orders?fail=1", "/orders", "/health", "/health"] {
        statuses.push(web.curl("app", "GET", &api, path));
    }
    for _ in 0..2 {
        statuses.push(batch.curl("job", "POST", &api, "/orders"));
    }
    assert_eq!(statuses, ["200", "200", "500", "200", "200", "200", "201", "201"]);
    wait_until(Duration::from_secs(20), "eight requests answered in the recording", || {
        podtop.records().iter().filter(|r| r["type"] == "http" && r["http"]["role"] == "server").count() == 8
    });
    podtop.stop();
    fs::set_permissions(&recording, fs::Permissions::from_mode(0o644)).unwrap();

    // As nobody, without any capability: a recording needs no privilege.
    let who = runnable_by_anyone(&dir, &binary);
    let file = recording.to_str().unwrap();
    let ask = |args: &[&str]| {
        let mut argv = vec![file];
        argv.extend_from_slice(args);
        let (status, stdout, stderr) = output(as_nobody(&who, &argv));
        assert!(status.success() && stderr.is_empty(), "who {args:?}: {status}, {stderr:?}");
        eprintln!("who {args:?}:\n{}", stdout.join("\n"));
        stdout
    };
    let (web_name, batch_name, api_name) = (&web.name, &batch.name, &api.name);
    assert_eq!(
        ask(&["opened", &data]),
        [
            "pod\tcontainer\tprocess\topens\tfailed".to_string(),
            format!("{web_name}\tapp\tpython3\t3\t0"),
            format!("{batch_name}\tjob\tpython3\t2\t1"),
        ]
    );
    assert_eq!(
        ask(&["called", "/orders"]),
        [
            "caller\tcontainer\tserver\trequests\tstatuses".to_string(),
            format!("{web_name}\tapp\t{api_name}\t4\t200:3 500:1"),
            format!("{batch_name}\tjob\t{api_name}\t2\t201:2"),
        ]
    );
    assert_eq!(ask(&["called", "POST /orders"]), ["caller\tcontainer\tserver\trequests\tstatuses".to_string(), format!("{batch_name}\tjob\t{api_name}\t2\t201:2")]);
    assert_eq!(ask(&["called", "GET", "/health"]), ["caller\tcontainer\tserver\trequests\tstatuses".to_string(), format!("{web_name}\tapp\t{api_name}\t2\t200:2")]);
    // Nothing asked for: the header alone, and a word on stderr.
    let (status, stdout, stderr) = output(as_nobody(&who, &[file, "opened", "/etc/no-such-file"]));
    assert!(status.success());
    assert_eq!(stdout, ["pod\tcontainer\tprocess\topens\tfailed"]);
    assert_eq!(stderr, [format!("who: nothing in {file} opened /etc/no-such-file")]);

    // Bad input: one line each, and a failure status.
    let usage = "who: usage: who RECORDING opened PATH | who RECORDING called [METHOD] PATH";
    assert_refused("no arguments", output(as_nobody(&who, &[])), usage);
    assert_refused("an unknown question", output(as_nobody(&who, &[file, "deleted", "/x"])), usage);
    assert_refused(
        "no such recording",
        output(as_nobody(&who, &["/nonexistent/minute.jsonl", "opened", "/x"])),
        "who: opening the recording /nonexistent/minute.jsonl: No such file or directory (os error 2)",
    );
    let lines: Vec<String> = fs::read_to_string(&recording).unwrap().lines().map(str::to_string).collect();
    let bad = |name: &str, text: String| -> String {
        let path = dir.0.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path.display().to_string()
    };
    let headless = bad("headless.jsonl", lines[1..].join("\n"));
    assert_refused(
        "no start record",
        output(as_nobody(&who, &[&headless, "opened", "/x"])),
        &format!("who: {headless} is not a podtop recording (its first line is not a start record)"),
    );
    let torn = bad("torn.jsonl", format!("{}\n{}\n{{\"type\":\"op\n{}\n", lines[0], lines[1], lines[2]));
    assert_refused("a torn line", output(as_nobody(&who, &[&torn, "opened", &data])), "who: line 3 of the recording is not JSON");
}
