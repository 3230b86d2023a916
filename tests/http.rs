//! `--events http`: HTTP/1 requests seen from the kernel at both ends, with
//! real servers and clients in two test pods; TLS server names from a real
//! openssl handshake; odd bytes that must never become requests.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// python3's http.server in `pod` on (`addr`, `port`), HTTP/1.1 keep-alive
/// (tests/scripts/http_server.py), once it listens.
fn start_server(pod: &Pod, addr: &str, port: &str) -> Killed {
    let server = script("http_server.py");
    let argv = ["python3", &server, addr, port];
    let mut child = pod.command(&argv).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    Killed(child)
}

fn http_records(records: &[Value], pod_uid: &str, role: &str) -> Vec<Value> {
    of_type(records, "http").filter(|r| r["pod"]["uid"] == pod_uid && r["http"]["role"] == role).cloned().collect()
}

/// (method, path, status) of each record, in order.
fn requests(records: &[Value]) -> Vec<(String, String, Option<u64>)> {
    records
        .iter()
        .map(|r| (r["http"]["method"].as_str().unwrap().to_string(), r["http"]["path"].as_str().unwrap().to_string(), r["http"]["status"].as_u64()))
        .collect()
}

#[test]
fn every_request_once_on_each_end_with_status_latency_and_exact_bytes() {
    require_root();
    let mut client = Pod::new("h-client");
    let mut server = Pod::new("h-server");
    link(&mut client, &mut server, 91);
    let server_addr = server.addr.clone().unwrap();
    let _http_server = start_server(&server, &server_addr, "8080");

    let mut podtop = Podtop::start(&["--events", "http", "--interval", "0.5"]);
    let mut with_queries = Podtop::start(&["--events", "http", "--http-query", "--pod", &client.uid]);
    let base = format!("http://{server_addr}:8080");
    for path in ["/ok?token=s3cret", "/missing", "/err"] {
        client.run(&["curl", "-s", "-o", "/dev/null", &format!("{base}{path}")]);
    }
    // python's http.client on one keep-alive connection.
    let statuses = client.run(&["python3", &script("http_keep_alive_client.py"), &server_addr, "8080"]);
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["200", "200", "404", "500", "200"]);
    // The server's keep-alive connection ends when the client's does.
    podtop.wait_for(Duration::from_secs(10), |r| r["type"] == "http" && r["pod"]["uid"] == server.uid && r["http"]["path"] == "/slow");
    std::thread::sleep(Duration::from_millis(700));
    let records = podtop.stop();
    let queried = with_queries.stop();

    let expected = |query: &str| -> Vec<(String, String, Option<u64>)> {
        [
            ("GET", format!("/ok{query}"), 200),
            ("GET", "/missing".into(), 404),
            ("GET", "/err".into(), 500),
            ("GET", "/ok".into(), 200),
            ("POST", "/submit".into(), 200),
            ("GET", "/missing".into(), 404),
            ("GET", "/err".into(), 500),
            ("GET", "/slow".into(), 200),
        ]
        .into_iter()
        .map(|(m, p, s)| (m.to_string(), p, Some(s)))
        .collect()
    };
    let clients = http_records(&records, &client.uid, "client");
    let servers = http_records(&records, &server.uid, "server");
    // Exactly one record per request on each end, in order, query strings gone.
    assert_eq!(requests(&clients), expected(""), "client end");
    assert_eq!(requests(&servers), expected(""), "server end");
    let with_query = requests(&http_records(&queried, &client.uid, "client"));
    assert_eq!(with_query[0].1, "/ok?token=s3cret", "--http-query keeps it");
    assert_eq!(with_query[3].1, "/ok?page=2&token=s3cret");

    let emulated = std::env::var_os("PODTOP_EMULATED").is_some();
    for (c, s) in clients.iter().zip(&servers) {
        // Both ends saw the same bytes, and name each other's pods.
        assert_eq!(c["http"]["request_bytes"], s["http"]["request_bytes"], "{c}\n{s}");
        assert_eq!(c["http"]["response_bytes"], s["http"]["response_bytes"], "{c}\n{s}");
        assert_eq!(c["peer"]["pod"]["uid"], server.uid.as_str());
        assert_eq!(s["peer"]["pod"]["uid"], client.uid.as_str());
        assert_eq!(c["container"]["id"], client.container_id.as_str());
        assert_eq!((c["sidecar_visible"].as_bool(), c["http"]["version"].as_str()), (Some(true), Some("1.1")));
        let latency_ms = c["http"]["latency_ns"].as_u64().unwrap() as f64 / 1e6;
        let server_ms = s["http"]["latency_ns"].as_u64().unwrap() as f64 / 1e6;
        if emulated {
            // Under emulation (make test-kernels) only the sleep's lower bound holds.
            assert!(c["http"]["path"] != "/slow" || (latency_ms >= 50.0 && server_ms >= 50.0), "/slow: {latency_ms} ms, server {server_ms} ms");
        } else if c["http"]["path"] == "/slow" {
            assert!((50.0..80.0).contains(&latency_ms) && (50.0..80.0).contains(&server_ms), "/slow: {latency_ms} ms, server {server_ms} ms");
        } else {
            assert!(latency_ms < 25.0 && server_ms < 25.0, "{}: {latency_ms} ms, server {server_ms} ms", c["http"]["path"]);
        }
    }
    // The 100-byte bodies of the 200s to GET, the 10-byte ones of errors: responses at least that long.
    for c in &clients {
        let body = if c["http"]["method"] == "GET" && c["http"]["status"] == 200 { 100 } else { 6 };
        assert!(c["http"]["response_bytes"].as_u64().unwrap() > body);
    }

    // Exact bytes: the requests on each connection add up to what its close
    // counted (the connection totals are exact: tests/pods.rs).
    let mut by_cookie: HashMap<u64, (u64, u64)> = HashMap::new();
    for c in &clients {
        let sums = by_cookie.entry(c["net"]["cookie"].as_u64().unwrap()).or_default();
        sums.0 += c["http"]["request_bytes"].as_u64().unwrap();
        sums.1 += c["http"]["response_bytes"].as_u64().unwrap();
    }
    assert_eq!(by_cookie.len(), 4, "three curl connections and one keep-alive");
    for (cookie, (request_bytes, response_bytes)) in by_cookie {
        let close = of_type(&records, "close").find(|r| r["net"]["cookie"] == cookie).unwrap_or_else(|| panic!("no close of {cookie}"));
        assert_eq!((close["net"]["tx_bytes"].as_u64().unwrap(), close["net"]["rx_bytes"].as_u64().unwrap()), (request_bytes, response_bytes), "{close}");
    }
    assert!(podtop.stderr().contains(" 0 lost"), "{}", podtop.stderr());
}

#[test]
fn odd_bytes_never_become_requests_and_never_break_the_stream() {
    require_root();
    let mut client = Pod::new("h-odd-client");
    let mut server = Pod::new("h-odd-server");
    link(&mut client, &mut server, 92);
    let server_addr = server.addr.clone().unwrap();
    let _http_server = start_server(&server, &server_addr, "8080");

    // Every line is checked against the published schema as it comes (common::Podtop).
    let mut podtop = Podtop::start(&["--events", "http", "--pod", &client.uid]);
    // Bytes that are not HTTP/1 requests, or are, oddly sent; each on its own connection.
    assert_eq!(client.run(&["python3", &script("http_odd_client.py"), &server_addr, "8080"]).trim(), "done");
    std::thread::sleep(Duration::from_millis(500));
    let records = podtop.stop();
    let paths: Vec<String> = http_records(&records, &client.uid, "client").iter().map(|r| r["http"]["path"].as_str().unwrap().to_string()).collect();
    // Binary bytes, the HTTP/2 preface and a request written a byte at a time
    // (its first write is not a request line) are not HTTP; a non-UTF-8 path
    // is kept lossily; the 100 KB header and the pipelined pair are requests.
    assert_eq!(paths, ["/caf\u{fffd}", "/big", "/ok"], "{records:#?}");
}

#[test]
fn the_tls_server_name_on_the_close_at_both_ends() {
    require_root();
    let dir = OpenDir::new("tls");
    let mut client = Pod::new("t-client");
    let mut server = Pod::new("t-server");
    link(&mut client, &mut server, 93);
    let server_addr = server.addr.clone().unwrap();
    let (key, cert) = (dir.0.join("key.pem"), dir.0.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=shop.example.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let mut tls_server = Killed(
        server
            .command(&["openssl", "s_server", "-quiet", "-accept", "8443", "-cert", cert.to_str().unwrap(), "-key", key.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut podtop = Podtop::start(&["--events", "http"]);
    let target = format!("{server_addr}:8443");
    // s_server takes a moment to listen.
    for attempt in 0.. {
        let out = client.command(&["openssl", "s_client", "-connect", &target, "-servername", "Shop.Example.TEST", "-brief"]).stdin(Stdio::null()).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(attempt < 50, "s_client: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    fn close_of(uid: String) -> impl Fn(&Value) -> bool {
        move |r| r["type"] == "close" && r["pod"]["uid"] == uid.as_str() && !r["tls"].is_null()
    }
    let client_close = podtop.wait_for(Duration::from_secs(10), close_of(client.uid.clone()));
    // s_server reads each record in two, its 5-byte header first: the hello is found all the same.
    let server_close = podtop.wait_for(Duration::from_secs(10), close_of(server.uid.clone()));
    podtop.stop();
    let _ = tls_server.0.kill();
    assert_eq!(client_close["tls"]["sni"], "shop.example.test", "{client_close}");
    assert_eq!(client_close["tls"]["version"], "1.3", "{client_close}");
    assert_eq!(client_close["net"]["dport"], 8443);
    assert_eq!((&server_close["tls"]["sni"], &server_close["tls"]["version"]), (&client_close["tls"]["sni"], &client_close["tls"]["version"]), "{server_close}");
    assert_eq!(server_close["net"]["sport"], 8443);
}

/// haproxy in `mode http` with `option httplog`, its log on stdout, in its
/// own container of the server pod, in front of http_server.py on loopback.
fn haproxy_config(bind: &str, backend: &str) -> String {
    format!(
        "global\n  maxconn 256\n  log stdout format raw local0\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend web\n  bind {bind}\n  default_backend app\n\
         backend app\n  server py {backend}\n"
    )
}

/// (method, path, status) of a request line in haproxy's httplog format:
/// `CLIENT [DATE] FRONTEND BACKEND/SERVER TIMERS STATUS BYTES ... "METHOD URI VERSION"`.
fn httplog_request(line: &str) -> Option<(String, String, Option<u64>)> {
    let status = line.split_whitespace().nth(5)?.parse().ok()?;
    let request = &line[line.find('"')? + 1..line.rfind('"')?];
    let mut words = request.split_whitespace();
    Some((words.next()?.to_string(), words.next()?.to_string(), Some(status)))
}

/// How many of each status, for a message a person can read.
fn by_status(requests: &[(String, String, Option<u64>)]) -> std::collections::BTreeMap<Option<u64>, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for (_, _, status) in requests {
        *counts.entry(*status).or_insert(0) += 1;
    }
    counts
}

#[test]
fn through_haproxy_every_request_once_on_each_end_as_its_log_counts() {
    require_root();
    let dir = OpenDir::new("haproxy-http");
    let mut client = Pod::new("hp-client");
    let mut server = Pod::new("hp-server");
    link(&mut client, &mut server, 94);
    let server_addr = server.addr.clone().unwrap();
    let (proxy_id, proxy_cgroup) = server.add_container();
    let config = dir.0.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(&format!("{server_addr}:8081"), "127.0.0.1:8080")).unwrap();
    let mut haproxy = Killed(
        server
            .command_in(&proxy_cgroup, &["haproxy", "-db", "-f", config.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Its log, one line per request once its response is sent.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log_sink = log.clone();
    let stdout = haproxy.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            log_sink.lock().unwrap().push(line);
        }
    });
    wait_for_listener(&server, &proxy_cgroup, 8081);
    // Started after haproxy, so stopped before it: haproxy, not the test, sees its connections end.
    let http_server = start_server(&server, "127.0.0.1", "8080");

    let mut podtop = Podtop::start(&["--events", "net,http", "--interval", "0.5"]);
    let base = format!("http://{server_addr}:8081");
    for (path, status) in [("/ok?token=s3cret", "200"), ("/missing", "404"), ("/err", "500")] {
        let out = client.run(&["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("{base}{path}")]);
        assert_eq!(out, status, "{path}");
    }
    assert_eq!(client.run(&["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "y=1", &format!("{base}/submit")]), "200");
    // curl, one connection each, then python's http.client on one keep-alive connection.
    let statuses = client.run(&["python3", &script("http_proxied_client.py"), &server_addr, "8081"]);
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["200", "200", "404", "500", "200", "200"]);
    let sent = 10;

    // Each end of each hop, by pod, container and role: the client pod's
    // requests to haproxy, haproxy's frontend (server) and its requests to the
    // backend (client), and the python server. Where haproxy keeps a backend
    // connection open, that end's last exchange ends once it has been quiet 5 s.
    let ends = [
        ("curl and http.client -> haproxy", client.uid.clone(), client.container_id.clone(), "client"),
        ("haproxy's frontend", server.uid.clone(), proxy_id.clone(), "server"),
        ("haproxy -> backend", server.uid.clone(), proxy_id.clone(), "client"),
        ("the python backend", server.uid.clone(), server.container_id.clone(), "server"),
    ];
    let of_end = |records: &[Value], (_, uid, container, role): &(&str, String, String, &str)| -> Vec<Value> {
        http_records(records, uid, role).into_iter().filter(|r| r["container"]["id"] == container.as_str()).collect()
    };
    wait_until(Duration::from_secs(60), "record of every request at every end, and haproxy's log of each", || {
        let records = podtop.records();
        log.lock().unwrap().len() >= sent && ends.iter().all(|end| of_end(&records, end).len() >= sent)
    });
    // Anything more (a second record of a request) would come within an interval.
    std::thread::sleep(Duration::from_millis(1000));
    let records = podtop.stop();
    drop(http_server);
    drop(haproxy);

    let logged: Vec<_> = log.lock().unwrap().iter().map(|l| httplog_request(l).unwrap_or_else(|| panic!("not an httplog line: {l}"))).collect();
    let mut reference: Vec<_> = logged.iter().map(|(m, p, s)| (m.clone(), p.split('?').next().unwrap().to_string(), *s)).collect();
    reference.sort();
    assert_eq!(reference.len(), sent, "haproxy logged every request once: {logged:?}");
    assert_eq!(by_status(&reference), [(Some(200), 6), (Some(404), 2), (Some(500), 2)].into_iter().collect(), "haproxy's log");
    for end in &ends {
        let mut seen = requests(&of_end(&records, end));
        seen.sort();
        // Per-status counts first: the reference figure.
        assert_eq!(by_status(&seen), by_status(&reference), "{}: per-status counts against haproxy's log", end.0);
        assert_eq!(seen, reference, "{}: one record per request, method, path and status exact", end.0);
    }
    // The hop the client sees names haproxy's pod; haproxy's backend hop stays in its pod, on loopback.
    for r in of_end(&records, &ends[0]) {
        assert_eq!(r["peer"]["pod"]["uid"], server.uid.as_str(), "{r}");
        assert_eq!(r["net"]["dport"], 8081, "{r}");
    }
    for r in of_end(&records, &ends[2]) {
        assert_eq!(r["net"]["dport"], 8080, "{r}");
    }
    assert!(podtop.stderr().contains(" 0 lost"), "{}", podtop.stderr());
}
