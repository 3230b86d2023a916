//! `--events http` on HTTP/2: gRPC calls of python's grpcio and curl's
//! multiplexed streams against hypercorn, seen from the kernel at both ends,
//! in two test pods; one record per call or stream at each end, path,
//! status and bytes exact.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The tests' Python environment (make venv): grpcio and hypercorn.
fn venv_python() -> String {
    let python = format!("{}/target/venv/bin/python3", env!("CARGO_MANIFEST_DIR"));
    assert!(std::path::Path::new(&python).exists(), "no {python}: `make venv` makes it (grpcio, hypercorn)");
    python
}

/// `argv` in `pod`, once it printed "ready".
fn start_ready(pod: &Pod, argv: &[&str]) -> Killed {
    let mut child = pod.command(argv).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "{argv:?}");
    Killed(child)
}

/// hypercorn serving tests/scripts/h2_app.py in `pod` on `bind`, once it listens.
fn start_hypercorn(pod: &Pod, python: &str, bind: &str) -> Killed {
    let scripts = format!("{}/tests/scripts", env!("CARGO_MANIFEST_DIR"));
    let child = pod.command(&[python, "-m", "hypercorn", "--bind", bind, "h2_app:app"]).current_dir(&scripts).stderr(Stdio::null()).spawn().unwrap();
    let port: u16 = bind.rsplit(':').next().unwrap().parse().unwrap();
    let hypercorn = Killed(child);
    wait_for_listener(pod, &pod.container_cgroup, port);
    hypercorn
}

fn http_records(records: &[Value], pod_uid: &str, role: &str) -> Vec<Value> {
    of_type(records, "http").filter(|r| r["pod"]["uid"] == pod_uid && r["http"]["role"] == role).cloned().collect()
}

/// What a record says of its call: path, HTTP status, gRPC status by name, reset.
fn call(r: &Value) -> (String, Option<u64>, Option<String>, Option<String>) {
    let h = &r["http"];
    (
        h["path"].as_str().unwrap().to_string(),
        h["status"].as_u64(),
        h["grpc"]["status"].as_str().map(str::to_string),
        h["reset"].as_str().map(str::to_string),
    )
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn grpc_calls_once_at_each_end_with_method_status_and_exact_bytes() {
    require_root();
    let python = venv_python();
    let mut client = Pod::new("g-client");
    let mut server = Pod::new("g-server");
    link(&mut client, &mut server, 93);
    let server_addr = server.addr.clone().unwrap();
    let _grpc_server = start_ready(&server, &[&python, &script("grpc_server.py"), &server_addr, "50051"]);

    let mut podtop = Podtop::start(&["--events", "http,net", "--interval", "0.5"]);
    let statuses = client.run(&[&python, &script("grpc_client.py"), &server_addr, "50051"]);
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["OK", "NOT_FOUND", "DEADLINE_EXCEEDED", "OK"]);
    // The slow call's server end ends when its handler returns, 2 s in.
    podtop.wait_for(Duration::from_secs(15), |r| {
        r["type"] == "close" && r["pod"]["uid"] == server.uid && r["net"]["dport"].as_u64().is_some_and(|p| p != 50051)
    });
    let records = podtop.stop();

    let clients = http_records(&records, &client.uid, "client");
    let servers = http_records(&records, &server.uid, "server");
    let say = |grpc: Option<&str>, reset: Option<&str>, status: Option<u64>| {
        ("/demo.Echo/Say".to_string(), status, grpc.map(str::to_string), reset.map(str::to_string))
    };
    // The slow call's deadline passes at both ends at once: the server
    // answers DEADLINE_EXCEEDED (trailers only) as the client resets the
    // stream (CANCEL); each end records whichever it met first.
    let slow = [say(Some("DEADLINE_EXCEEDED"), None, Some(200)), say(None, Some("CANCEL"), None)];
    for (end, records) in [("client", &clients), ("server", &servers)] {
        let (mut calls, mut slow_ones): (Vec<_>, Vec<_>) = records.iter().map(call).partition(|c| !slow.contains(c));
        assert_eq!(slow_ones.len(), 1, "{end} end, the slow call: {records:#?}");
        slow_ones.clear();
        calls.sort();
        let expected = vec![
            ("/demo.Echo/List".to_string(), Some(200), Some("OK".to_string()), None),
            say(Some("NOT_FOUND"), None, Some(200)),
            say(Some("OK"), None, Some(200)),
        ];
        assert_eq!(calls, expected, "{end} end: {records:#?}");
    }

    for r in clients.iter().chain(&servers) {
        let h = &r["http"];
        assert_eq!((h["version"].as_str(), h["method"].as_str(), h["heads_lost"].as_bool()), (Some("2"), Some("POST"), Some(false)), "{r}");
        assert_eq!(h["authority"].as_str(), Some(format!("{server_addr}:50051").as_str()), "{r}");
        assert_eq!(h["grpc"]["service"].as_str(), Some("demo.Echo"), "{r}");
        assert_eq!(r["sidecar_visible"].as_bool(), Some(true), "{r}");
    }
    // Both ends saw each call's bytes alike, and name each other's pods.
    let by_path_status = |rs: &[Value]| -> HashMap<(String, Option<String>), (u64, u64)> {
        rs.iter()
            .map(|r| {
                let (path, _, grpc, reset) = call(r);
                ((path, grpc.or(reset)), (r["http"]["request_bytes"].as_u64().unwrap(), r["http"]["response_bytes"].as_u64().unwrap()))
            })
            .collect()
    };
    let (client_bytes, server_bytes) = (by_path_status(&clients), by_path_status(&servers));
    for (call, bytes) in &client_bytes {
        if server_bytes.contains_key(call) && !slow.iter().any(|s| (&s.0, s.2.as_ref().or(s.3.as_ref())) == (&call.0, call.1.as_ref())) {
            assert_eq!(Some(bytes), server_bytes.get(call), "{call:?}");
        }
    }
    assert_eq!(client_bytes.len(), 4, "{client_bytes:?}");
    for c in &clients {
        assert_eq!(c["peer"]["pod"]["uid"], server.uid.as_str(), "{c}");
        assert!(c["http"]["request_bytes"].as_u64().unwrap() > 9, "{c}");
    }
    // The slow call ended at its 300 ms deadline, before its handler's 2 s were up.
    for r in clients.iter().chain(&servers).filter(|r| r["http"]["grpc"]["status"] == "DEADLINE_EXCEEDED") {
        let ms = r["http"]["latency_ns"].as_u64().unwrap() as f64 / 1e6;
        assert!((250.0..2000.0).contains(&ms), "{ms} ms: {r}");
    }
    // Every stream's bytes are inside its connection's: the client's frames
    // that are no stream's (preface, SETTINGS, PING, WINDOW_UPDATE) are the rest.
    let close = of_type(&records, "close").find(|r| r["pod"]["uid"] == client.uid && r["net"]["dport"] == 50051).expect("the client's close");
    let sum = |key: &str| clients.iter().map(|r| r["http"][key].as_u64().unwrap()).sum::<u64>();
    assert!(sum("request_bytes") < close["net"]["tx_bytes"].as_u64().unwrap() && sum("response_bytes") < close["net"]["rx_bytes"].as_u64().unwrap(), "{close}");
}

#[test]
fn concurrent_streams_on_one_connection_against_hypercorn_every_stream_exact() {
    require_root();
    let python = venv_python();
    let mut client = Pod::new("h2-client");
    let mut server = Pod::new("h2-server");
    link(&mut client, &mut server, 94);
    let server_addr = server.addr.clone().unwrap();
    let bind = format!("{server_addr}:8443");
    let _hypercorn = start_hypercorn(&server, &python, &bind);

    let mut podtop = Podtop::start(&["--events", "http,net", "--interval", "0.5"]);
    // 24 streams at once on one connection (python's h2: curl 7.88 fails
    // to reuse a prior-knowledge connection), each with the same custom
    // header, which HPACK sends once and then from its dynamic table.
    let paths: Vec<String> = (0..24).map(|i| if i % 6 == 5 { format!("/missing/{i}") } else { format!("/item/{i}") }).collect();
    let client_script = script("h2_client.py");
    let mut argv = vec![python.as_str(), &client_script, &server_addr, "8443"];
    argv.extend(paths.iter().map(String::as_str));
    let out = client.run(&argv);
    let answered: Vec<String> = out.lines().map(String::from).collect();
    let said: Vec<String> = paths.iter().map(|p| format!("{p} {}", if p.starts_with("/missing") { 404 } else { 200 })).collect();
    assert_eq!(answered, said);
    podtop.wait_for(Duration::from_secs(10), |r| r["type"] == "close" && r["pod"]["uid"] == server.uid);
    let records = podtop.stop();

    let expected: Vec<(String, Option<u64>)> = sorted(paths.iter().map(|p| (p.clone(), Some(if p.starts_with("/missing") { 404 } else { 200 }))).collect());
    for (end, uid, role) in [("client", &client.uid, "client"), ("server", &server.uid, "server")] {
        let rs = http_records(&records, uid, role);
        let got: Vec<(String, Option<u64>)> = sorted(rs.iter().map(|r| (r["http"]["path"].as_str().unwrap().to_string(), r["http"]["status"].as_u64())).collect());
        assert_eq!(got, expected, "{end} end: {rs:#?}");
        let cookies: std::collections::HashSet<u64> = rs.iter().map(|r| r["net"]["cookie"].as_u64().unwrap()).collect();
        assert_eq!(cookies.len(), 1, "{end}: one connection");
        for r in &rs {
            let h = &r["http"];
            assert_eq!((h["version"].as_str(), h["method"].as_str(), h["heads_lost"].as_bool(), h["grpc"].is_null()), (Some("2"), Some("GET"), Some(false), true), "{r}");
            assert_eq!(h["authority"].as_str(), Some(bind.as_str()), "{r}");
            // A HEADERS frame and a 100-byte DATA frame, at least.
            assert!(h["response_bytes"].as_u64().unwrap() >= 9 + 9 + 100, "{r}");
        }
    }
    let bytes = |uid: &str, role: &str| -> HashMap<String, (u64, u64)> {
        http_records(&records, uid, role)
            .iter()
            .map(|r| (r["http"]["path"].as_str().unwrap().to_string(), (r["http"]["request_bytes"].as_u64().unwrap(), r["http"]["response_bytes"].as_u64().unwrap())))
            .collect()
    };
    assert_eq!(bytes(&client.uid, "client"), bytes(&server.uid, "server"), "each stream's bytes alike at both ends");
}

#[test]
fn odd_http2_bytes_never_become_another_streams_request() {
    require_root();
    let python = venv_python();
    let mut client = Pod::new("h2-odd-client");
    let mut server = Pod::new("h2-odd-server");
    link(&mut client, &mut server, 95);
    let server_addr = server.addr.clone().unwrap();
    let bind = format!("{server_addr}:8443");
    let _hypercorn = start_hypercorn(&server, &python, &bind);

    let mut podtop = Podtop::start(&["--events", "http,net", "--interval", "0.5"]);
    assert_eq!(client.run(&[&python, &script("h2_odd_client.py"), &server_addr, "8443"]).trim(), "done");
    // Then a request as it should be: seen whole at both ends.
    let out = client.run(&[&python, &script("h2_client.py"), &server_addr, "8443", "/after"]);
    assert_eq!(out.trim(), "/after 200");
    podtop.wait_for(Duration::from_secs(10), |r| r["type"] == "http" && r["pod"]["uid"] == server.uid && r["http"]["path"] == "/after");
    std::thread::sleep(Duration::from_millis(700));
    let records = podtop.stop();

    let schema = schema_validator();
    for r in &records {
        assert!(schema.is_valid(r), "not valid against the schema: {r}");
    }
    for (uid, role) in [(&client.uid, "client"), (&server.uid, "server")] {
        let rs = http_records(&records, uid, role);
        // The request past the bound may be answered: then it is a stream
        // whose heads are lost, never a path read from another's bytes.
        for r in &rs {
            let path = r["http"]["path"].as_str().unwrap();
            assert!(path == "/after" || (path == "*" && r["http"]["heads_lost"] == true), "{role}: {r}");
        }
        assert_eq!(rs.iter().filter(|r| r["http"]["path"] == "/after" && r["http"]["status"] == 200).count(), 1, "{role}: {rs:#?}");
        // hypercorn answers the request past the bound: at the client, whose
        // close ends it, a stream whose heads are lost (at the server too,
        // where hypercorn ends the stream or the connection before podtop stops).
        let lost = rs.iter().filter(|r| r["http"]["path"] == "*").count();
        assert!(if role == "client" { lost == 1 } else { lost <= 1 }, "{role}: {rs:#?}");
    }
}

#[test]
fn grpc_through_an_haproxy_sidecar_a_record_of_each_call_on_each_hop() {
    require_root();
    let python = venv_python();
    let dir = OpenDir::new("haproxy-h2");
    let mut client = Pod::new("gh-client");
    let mut server = Pod::new("gh-server");
    link(&mut client, &mut server, 96);
    let server_addr = server.addr.clone().unwrap();
    // The app listens on loopback; its sidecar relays HTTP/2 to it, as a mesh's does.
    let _grpc_server = start_ready(&server, &[&python, &script("grpc_server.py"), "127.0.0.1", "50051"]);
    let (proxy_id, proxy_cgroup) = server.add_container();
    let config = dir.0.join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend grpc\n  bind {server_addr}:50052 proto h2\n  default_backend app\n\
             backend app\n  server app 127.0.0.1:50051 proto h2\n"
        ),
    )
    .unwrap();
    let haproxy = server.command_in(&proxy_cgroup, &["haproxy", "-db", "-f", config.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let haproxy = Killed(haproxy);
    wait_for_listener(&server, &proxy_cgroup, 50052);

    let mut podtop = Podtop::start(&["--events", "http,net", "--interval", "0.5"]);
    let statuses = client.run(&[&python, &script("grpc_client.py"), &server_addr, "50052"]);
    assert_eq!(statuses.split_whitespace().collect::<Vec<_>>(), ["OK", "NOT_FOUND", "DEADLINE_EXCEEDED", "OK"]);
    let ends = [
        ("the client -> haproxy", client.uid.clone(), client.container_id.clone(), "client"),
        ("haproxy's frontend", server.uid.clone(), proxy_id.clone(), "server"),
        ("haproxy -> the app", server.uid.clone(), proxy_id.clone(), "client"),
        ("the app", server.uid.clone(), server.container_id.clone(), "server"),
    ];
    let of_end = |records: &[Value], (_, uid, container, role): &(&str, String, String, &str)| -> Vec<Value> {
        http_records(records, uid, role).into_iter().filter(|r| r["container"]["id"] == container.as_str()).collect()
    };
    // The slow call's streams end by its deadline at each hop (2 s at most, its handler's time).
    wait_until(Duration::from_secs(30), "a record of every call at every end", || {
        let records = podtop.records();
        ends.iter().all(|end| of_end(&records, end).len() >= 4)
    });
    std::thread::sleep(Duration::from_millis(1000));
    let records = podtop.stop();
    drop(haproxy);

    for end in &ends {
        let rs = of_end(&records, end);
        let mut calls: Vec<(String, Option<String>)> =
            rs.iter().map(|r| (r["http"]["path"].as_str().unwrap().to_string(), r["http"]["grpc"]["status"].as_str().map(str::to_string))).collect();
        calls.sort();
        // The slow call ends past its deadline however that hop met it
        // (DEADLINE_EXCEEDED in the trailers, or a reset without them).
        let slow = calls.iter().position(|(p, s)| p == "/demo.Echo/Say" && s.as_deref() != Some("OK") && s.as_deref() != Some("NOT_FOUND"));
        assert!(slow.is_some(), "{}: {rs:#?}", end.0);
        calls.remove(slow.unwrap());
        let expected = [("/demo.Echo/List", Some("OK")), ("/demo.Echo/Say", Some("NOT_FOUND")), ("/demo.Echo/Say", Some("OK"))]
            .map(|(p, s)| (p.to_string(), s.map(str::to_string)))
            .to_vec();
        assert_eq!(calls, expected, "{}: {rs:#?}", end.0);
        for r in &rs {
            assert_eq!((r["http"]["version"].as_str(), r["http"]["heads_lost"].as_bool()), (Some("2"), Some(false)), "{}: {r}", end.0);
        }
    }
    // The hop from the client crosses the pod's boundary, where the sidecar sees it.
    assert!(of_end(&records, &ends[0]).iter().all(|r| r["sidecar_visible"] == true));
}
