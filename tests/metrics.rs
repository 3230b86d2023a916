//! `podtop serve --metrics`: a real Prometheus scrapes it, and a PromQL query
//! through Prometheus' own HTTP API returns the exact bytes two test pods moved.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn url_encoded(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Prometheus scraping every second with these `scrape_configs` entries,
/// and the port of its HTTP API.
fn start_prometheus(dir: &OpenDir, scrape_configs: &str) -> (Killed, u16) {
    let port = free_port();
    let config = dir.0.join("prometheus.yml");
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape_configs}")).unwrap();
    let prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    (prometheus, port)
}

/// Waits until Prometheus has scraped `job` and found it up.
fn wait_up(prometheus_port: u16, job: &str) {
    let up = format!(r#"up{{job="{job}"}}"#);
    wait_until(Duration::from_secs(30), &format!("Prometheus scrapes {job}"), || query(prometheus_port, &up).as_deref() == Some("1"));
}

/// `podtop serve --metrics 127.0.0.1:PORT`, watching net, with `extra`
/// arguments, once /metrics or /healthz answers (`ready` says whether it does).
fn start_serve(extra: &[&str], ready: impl Fn(u16) -> bool) -> (Started, u16) {
    let port = free_port();
    let mut podtop = Started::spawn(
        Command::new(PODTOP).args(["serve", "--metrics", &format!("127.0.0.1:{port}"), "--events", "net", "--interval", "1"]).args(extra),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready(port) {
        let ended = podtop.child.try_wait().unwrap();
        assert!(ended.is_none() && Instant::now() < deadline, "podtop serves its metrics within 20 s ({ended:?}); {}", podtop.said());
        std::thread::sleep(Duration::from_millis(50));
    }
    (podtop, port)
}

/// The value of an instant PromQL query, as Prometheus returns it.
fn query(port: u16, promql: &str) -> Option<String> {
    let (_, body) = get(port, &format!("/api/v1/query?query={}", url_encoded(promql)))?;
    let v: Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str().map(str::to_string)
}

#[test]
fn prometheus_scrapes_the_exact_bytes_two_pods_moved() {
    require_root();
    let dir = OpenDir::new("metrics");
    let mut client = Pod::new("m-client");
    let mut server = Pod::new("m-server");
    link(&mut client, &mut server, 84);
    let server_addr = server.addr.clone().unwrap();

    let (mut podtop, metrics_port) = start_serve(&[], |port| get(port, "/metrics").is_some());
    assert_eq!(get(metrics_port, "/").map(|(status, _)| status), Some(404));

    let (_prometheus, prometheus_port) = start_prometheus(&dir, &format!("  - job_name: podtop\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"));

    // A known transfer: 1,000,000 bytes from the client pod to the server pod.
    let mut listener = server.command(&["python3", &script("counting_server.py"), &server_addr, "7100"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(listener.stdout.take().unwrap()).lines();
    assert_eq!(out.next().unwrap().unwrap(), "ready");
    client.run(&["python3", &script("send.py"), &server_addr, "7100", "1000000", "x"]);
    assert_eq!(out.next().unwrap().unwrap(), "1000000", "what the server counted");
    assert!(listener.wait().unwrap().success());

    let sent = format!(r#"sum(podtop_tcp_bytes_total{{pod_uid="{}",scope="boundary",direction="tx"}})"#, client.uid);
    let received = format!(r#"sum(podtop_tcp_bytes_total{{pod_uid="{}",scope="boundary",direction="rx"}})"#, server.uid);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (tx, rx) = (query(prometheus_port, &sent), query(prometheus_port, &received));
        if tx.as_deref() == Some("1000000") && rx.as_deref() == Some("1000000") {
            break;
        }
        assert!(Instant::now() < deadline, "through Prometheus: sent {tx:?}, received {rx:?} (want 1000000 each); {}", podtop.said());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(query(prometheus_port, r#"up{job="podtop"}"#).as_deref(), Some("1"));
    let own = format!(r#"count(podtop_tcp_bytes_total{{pod_uid="{}",node!="",container_id="{}"}})"#, client.uid, client.container_id);
    assert!(query(prometheus_port, &own).is_some(), "the node and the container are labels");

    // promtool accepts the exposition as it is.
    let (_, exposition) = get(metrics_port, "/metrics").unwrap();
    let mut promtool = Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).output_with(exposition.as_bytes());
    assert!(promtool.0.success(), "promtool check metrics: {}", promtool.1);
    promtool.1.clear();

    // SIGTERM: it ends within a second, every probe detached.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(podtop.id() as i32, libc::SIGTERM) };
    let status = wait_timeout(&mut podtop.child, Duration::from_secs(2));
    let status = status.unwrap_or_else(|| panic!("podtop serve ends on SIGTERM; {}", podtop.said()));
    assert!(status.success(), "{status}; {}", podtop.said());
    let stderr = podtop.stderr_at_end();
    assert!(stderr.contains(" lost in the kernel") && stderr.contains(" probes detached"), "the exit summary: {stderr}");
    assert!(loaded_podtop_programs().is_empty());
}

trait OutputWith {
    /// Runs it with `input` on its stdin: (status, stdout and stderr).
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String);
}

impl OutputWith for Command {
    fn output_with(&mut self, input: &[u8]) -> (std::process::ExitStatus, String) {
        let mut child = self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status, String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    }
}

/// A process's resident memory, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
    kib.expect("VmRSS") * 1024
}

/// Sends `request` on a new connection and reads until podtop closes it or
/// `wait` passes: (what came back, whether podtop closed the connection).
fn exchange(port: u16, request: &[u8], wait: Duration) -> (String, bool) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(request).unwrap();
    c.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let closed = loop {
        let mut buf = [0u8; 4096];
        match c.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

/// The connections podtop's metrics server dropped for `reason`, as it reports them.
fn dropped(port: u16, reason: &str) -> u64 {
    let (_, text) = get(port, "/metrics").expect("/metrics answers");
    let prefix = "podtop_metrics_connections_dropped_total{";
    let line = text.lines().find(|l| l.starts_with(prefix) && l.contains(&format!(r#"reason="{reason}""#)));
    line.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("no {reason} count in:\n{text}"))
}

/// A client that asks for /metrics every 200 ms and notes how long each
/// answer took (None: no answer within 5 s), and podtop's RSS beside.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(Vec<Option<Duration>>, u64)>>,
}

impl Watcher {
    fn start(port: u16, pid: u32) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut answers, mut peak) = (Vec::new(), 0);
            while !flag.load(Ordering::Relaxed) {
                let asked = Instant::now();
                // As Prometheus does at its next interval, a scrape that got
                // nothing is asked again at once: one lost to a loaded
                // machine's scheduling is not a blocked server, two in a row
                // (up to 10 s without an answer) are.
                let scrape = || get(port, "/metrics").filter(|(status, _)| *status == 200);
                let answered = scrape().or_else(scrape);
                answers.push(answered.map(|_| asked.elapsed()));
                peak = peak.max(rss(pid));
                std::thread::sleep(Duration::from_millis(200));
            }
            (answers, peak)
        });
        Watcher { stop, thread: Some(thread) }
    }

    /// Every answer's time (None where none came) and the peak RSS seen.
    fn finish(mut self) -> (Vec<Option<Duration>>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A connection whose receive buffer is 4 KiB, set before it connects (the
/// window it offers is fixed then).
fn small_window_connection(port: u16) -> TcpStream {
    // SAFETY: a new socket, configured, then owned by the TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 4096;
        let set = libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, (&size as *const libc::c_int).cast(), 4);
        assert_eq!(set, 0);
        let stream = TcpStream::from_raw_fd(fd);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(fd, (&addr as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32);
        assert_eq!(connected, 0, "{}", std::io::Error::last_os_error());
        stream
    }
}

/// The open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

#[test]
fn no_client_can_end_block_or_grow_the_metrics_server() {
    require_root();
    let dir = OpenDir::new("metrics-attacks");
    let (mut podtop, port) = start_serve(&[], |port| get(port, "/metrics").is_some());
    let pid = podtop.id();
    let (_prometheus, prometheus_port) = start_prometheus(&dir, &format!("  - job_name: podtop\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"));
    wait_up(prometheus_port, "podtop");
    let (started, rss_before) = (Instant::now(), rss(pid));
    let watcher = Watcher::start(port, pid);

    // A declared body of 10^13 bytes: refused at once, nothing read or allocated for it.
    let huge = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000000\r\n\r\n";
    let (answer, closed) = exchange(port, huge, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 413 ") && closed, "a body of 10^13 bytes: {answer:?}, closed {closed}");
    let chunked = b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n";
    let (answer, closed) = exchange(port, chunked, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 413 ") && closed, "a chunked body: {answer:?}");

    // Slowloris: a head never finished, and a body declared and never sent.
    // Each is closed when the head's time is up; scrapes go on meanwhile.
    let timeouts_before = dropped(port, "timeout");
    let partial = std::thread::spawn(move || exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ", Duration::from_secs(15)));
    let body_promised = std::thread::spawn(move || {
        exchange(port, b"PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", Duration::from_secs(15))
    });
    let idle = std::thread::spawn(move || exchange(port, b"", Duration::from_secs(15)));
    let (answer, closed) = partial.join().unwrap();
    assert!(answer.is_empty() && closed, "a head never finished is closed: {answer:?}, closed {closed}");
    let (answer, closed) = body_promised.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 ") && closed, "a body promised: {answer:?}");
    assert!(idle.join().unwrap().1, "an idle connection is closed");
    // (Scrapes within half a second share one encoding: counts are polled.)
    wait_until(Duration::from_secs(2), "the slow heads counted", || dropped(port, "timeout") >= timeouts_before + 2);

    // One request line of 100 MB, no CRLF: podtop stops reading and closes
    // it after its 16 KiB bound (what is taken beyond is socket buffers).
    let mut line = TcpStream::connect(("127.0.0.1", port)).unwrap();
    line.write_all(b"GET /").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0;
    let cut = loop {
        if sent >= 100 << 20 {
            break None;
        }
        match line.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => break Some(e),
        }
    };
    assert!(cut.is_some() && sent < 16 << 20, "a 100 MB request line is cut off: {sent} bytes taken, {cut:?}");
    drop(line);

    // 20 pipelined scrapes from a client with a 4 KiB window that never
    // reads: its responses stall, and the connection is given up.
    let mut stalled = small_window_connection(port);
    stalled.write_all(&b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20)).unwrap();
    let timeouts_before = dropped(port, "timeout");
    wait_until(Duration::from_secs(20), "the stalled reader dropped", || dropped(port, "timeout") > timeouts_before);
    stalled.shutdown(Shutdown::Both).ok();
    drop(stalled);

    // 5,000 idle connections: past the cap the quietest go first, never a
    // scraper that asks.
    let evicted_before = dropped(port, "evicted");
    let idle: Vec<TcpStream> = (0..5000).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    wait_until(Duration::from_secs(20), "the idle connections evicted past the cap", || dropped(port, "evicted") >= evicted_before + 5000 - 256);
    std::thread::sleep(Duration::from_secs(2));
    drop(idle);

    // The file limit reached: podtop's own limit lowered to what it holds
    // now and 40 more (for good: no one here may raise it again); 600
    // connections. Accept fails (EMFILE), is counted,
    // and a quiet connection gives its descriptor back; scrapes go on.
    let limit = open_fds(pid) + 40;
    sh(&format!("prlimit --pid {pid} --nofile={limit}:{limit}"));
    let accept_errors_before = dropped(port, "accept_error");
    let crowd: Vec<TcpStream> = (0..600).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    wait_until(Duration::from_secs(20), "accept errors counted", || dropped(port, "accept_error") > accept_errors_before);
    std::thread::sleep(Duration::from_secs(3));
    drop(crowd);
    std::thread::sleep(Duration::from_secs(2));

    let (answers, peak) = watcher.finish();
    let window = started.elapsed().as_secs();
    let unanswered = answers.iter().filter(|a| a.is_none()).count();
    let slowest = answers.iter().flatten().max().copied().unwrap_or_default();
    eprintln!("{} scrapes by the watcher over {window} s, {unanswered} unanswered, slowest {slowest:?}; RSS {} MiB at start, peak {} MiB", answers.len(), rss_before >> 20, peak >> 20);
    assert_eq!(unanswered, 0, "every scrape of the watcher answered within 5 s, or at once when asked again; {}", podtop.said());
    assert!(peak < rss_before + (64 << 20), "RSS stays within 64 MiB of its start: {} -> {} MiB", rss_before >> 20, peak >> 20);
    // Prometheus scraped every second throughout, each within its 1 s timeout.
    let over = format!("{window}s");
    let lowest = query(prometheus_port, &format!(r#"min_over_time(up{{job="podtop"}}[{over}])"#));
    let scrapes: f64 = query(prometheus_port, &format!(r#"count_over_time(up{{job="podtop"}}[{over}])"#)).and_then(|n| n.parse().ok()).unwrap_or(0.0);
    assert_eq!(lowest.as_deref(), Some("1"), "up stayed 1 over the {window} s of attacks");
    assert!(scrapes >= window as f64 * 0.8, "Prometheus scraped throughout: {scrapes} scrapes in {window} s");

    // And it still ends cleanly on SIGTERM.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = wait_timeout(&mut podtop.child, Duration::from_secs(2));
    let status = status.unwrap_or_else(|| panic!("podtop serve ends on SIGTERM; {}", podtop.said()));
    assert!(status.success(), "{status}; {}", podtop.said());
    assert!(loaded_podtop_programs().is_empty());
}

/// A test CA, a certificate for 127.0.0.1 it signed, and a client's, made with openssl in `dir`.
fn make_certificates(dir: &OpenDir) -> std::path::PathBuf {
    let d = dir.0.join("pki");
    std::fs::create_dir_all(&d).unwrap();
    let d_s = d.display();
    sh(&format!(
        "cd {d_s} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=podtop-test-ca \
           -keyout ca.key -out ca.pem 2>/dev/null && \
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null && \
         printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext && \
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem 2>/dev/null && \
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=prometheus -keyout client.key -out client.csr 2>/dev/null && \
         printf 'extendedKeyUsage=clientAuth\\n' > client.ext && \
         openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem 2>/dev/null"
    ));
    d
}

/// curl's exit code and the body it got from `url`, with its `args`.
fn curl(args: &[&str], url: &str) -> (i32, String) {
    let out = Command::new("curl").args(["-s", "--max-time", "5"]).args(args).arg(url).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn prometheus_scrapes_over_tls_and_mutual_tls_and_clients_without_a_certificate_are_refused() {
    require_root();
    let dir = OpenDir::new("metrics-tls");
    let pki = make_certificates(&dir);
    let file = |name: &str| pki.join(name).display().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("server.pem"), file("server.key"));
    let answers_tls = |ca: String| move |port: u16| curl(&["--cacert", &ca], &format!("https://127.0.0.1:{port}/healthz")).0 == 0;
    let (_tls, tls_port) = start_serve(&["--metrics-tls-cert", &cert, "--metrics-tls-key", &key], answers_tls(ca.clone()));
    let (client_pem, client_key) = (file("client.pem"), file("client.key"));
    let with_cert = {
        let (ca, pem, key) = (ca.clone(), client_pem.clone(), client_key.clone());
        move |port: u16| curl(&client_cert_args(&ca, &pem, &key), &format!("https://127.0.0.1:{port}/healthz")).0 == 0
    };
    let (_mtls, mtls_port) = start_serve(&["--metrics-tls-cert", &cert, "--metrics-tls-key", &key, "--metrics-client-ca", &ca], with_cert);

    let jobs = format!(
        "  - job_name: tls\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n    static_configs:\n      - targets: ['127.0.0.1:{tls_port}']\n\
         \x20 - job_name: mtls\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      cert_file: {}\n      key_file: {}\n    static_configs:\n      - targets: ['127.0.0.1:{mtls_port}']\n",
        client_pem, client_key,
    );
    let (_prometheus, prometheus_port) = start_prometheus(&dir, &jobs);
    wait_up(prometheus_port, "tls");
    wait_up(prometheus_port, "mtls");
    let series = query(prometheus_port, r#"count(podtop_metrics_connections{job="mtls"})"#);
    assert_eq!(series.as_deref(), Some("1"), "podtop's own series came over mutual TLS");

    // Without a client certificate: /healthz (the kubelet's probe has none), never /metrics.
    let mtls = |path: &str| format!("https://127.0.0.1:{mtls_port}{path}");
    let (code, body) = curl(&["--cacert", &ca, "-w", "%{http_code}"], &mtls("/metrics"));
    assert!(code == 0 && body.ends_with("403") && !body.contains("podtop_"), "no certificate, no metrics: curl exit {code}, {body:?}");
    let (code, body) = curl(&["--cacert", &ca], &mtls("/healthz"));
    assert!(code == 0 && body == "ok\n", "/healthz without a certificate: {code} {body:?}");
    // A certificate the CA did not sign fails the handshake.
    let stranger = OpenDir::new("metrics-tls-stranger");
    let other = make_certificates(&stranger);
    let other_file = |name: &str| other.join(name).display().to_string();
    let (code, body) = curl(&client_cert_args(&ca, &other_file("client.pem"), &other_file("client.key")), &mtls("/metrics"));
    assert!(code != 0 && body.is_empty(), "a stranger's certificate: curl exit {code}, {body:?}");
    let (code, body) = curl(&["--cacert", &ca], &format!("https://127.0.0.1:{tls_port}/metrics"));
    assert!(code == 0 && body.contains("podtop_metrics_connections{"), "TLS without a client CA serves anyone: {code}");
    // No plain HTTP on a TLS port.
    assert_eq!(get(tls_port, "/metrics"), None, "plain HTTP is not answered on the TLS port");
    // Counted (scrapes within half a second share one encoding: polled).
    let refused_on = |port: u16, reason: &str, args: &[&str]| {
        let (_, text) = curl(args, &format!("https://127.0.0.1:{port}/metrics"));
        let reason = format!(r#"reason="{reason}""#);
        let line = text.lines().find(|l| l.starts_with("podtop_metrics_connections_dropped_total{") && l.contains(&reason));
        line.and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).unwrap_or(0)
    };
    let with_ours = client_cert_args(&ca, &client_pem, &client_key);
    wait_until(Duration::from_secs(5), "the refused scrape and handshake counted", || {
        refused_on(mtls_port, "tls", &with_ours) >= 1 && refused_on(mtls_port, "unauthenticated", &with_ours) >= 1
    });
    wait_until(Duration::from_secs(5), "the plain request counted", || refused_on(tls_port, "tls", &["--cacert", &ca]) >= 1);
}

fn client_cert_args<'a>(ca: &'a str, cert: &'a str, key: &'a str) -> [&'a str; 6] {
    ["--cacert", ca, "--cert", cert, "--key", key]
}

#[test]
fn a_bad_certificate_or_key_is_one_clear_line_at_start() {
    let dir = OpenDir::new("metrics-badtls");
    let garbage = dir.0.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let g = garbage.display().to_string();
    let out = Command::new(PODTOP).args(["serve", "--metrics", "127.0.0.1:0", "--metrics-tls-cert", &g, "--metrics-tls-key", &g]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(stderr.contains("--metrics-tls-cert") && stderr.lines().count() == 1 && !stderr.contains("panicked"), "{stderr}");
    let out = Command::new(PODTOP).args(["serve", "--metrics", "127.0.0.1:0", "--metrics-tls-key", &g]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--metrics-tls-cert"), "a key without a certificate; {}", said(&out));
}
