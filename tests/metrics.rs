//! `podtop serve --metrics`: a real Prometheus scrapes it, and a PromQL query
//! through Prometheus' own HTTP API returns the exact bytes two test pods moved.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from 127.0.0.1:`port`: (status code, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    c.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn url_encoded(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
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

    let metrics_port = free_port();
    let mut podtop = Killed(
        Command::new(PODTOP)
            .args(["serve", "--metrics", &format!("127.0.0.1:{metrics_port}"), "--events", "net", "--interval", "1"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(metrics_port, "/metrics").is_none() {
        assert!(Instant::now() < deadline, "podtop serves /metrics");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(metrics_port, "/").map(|(status, _)| status), Some(404));

    let prometheus_port = free_port();
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: podtop\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"),
    )
    .unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // A known transfer: 1,000,000 bytes from the client pod to the server pod.
    let mut listener = server.command(&["python3", "-c", COUNTING_SERVER, &server_addr, "7100"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(listener.stdout.take().unwrap()).lines();
    assert_eq!(out.next().unwrap().unwrap(), "ready");
    let send = format!("import socket\nc=socket.create_connection(({server_addr:?},7100)); c.sendall(b'x'*1000000); c.close()");
    client.run(&["python3", "-c", &send]);
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
        assert!(Instant::now() < deadline, "through Prometheus: sent {tx:?}, received {rx:?} (want 1000000 each)");
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
    unsafe { libc::kill(podtop.0.id() as i32, libc::SIGTERM) };
    let status = wait_timeout(&mut podtop.0, Duration::from_secs(2)).expect("podtop serve ends on SIGTERM");
    assert!(status.success());
    let mut stderr = String::new();
    podtop.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
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
