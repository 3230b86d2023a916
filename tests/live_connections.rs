//! Connections that stay open report every interval (progress records): a
//! sidecar whose app connection and upstream never close is billed while
//! they live, and a keep-alive connection's progress records and its close
//! add up to its bytes exactly.

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::process::{ChildStdout, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A client pod with a relay container beside its app, and a backend pod.
struct Mesh {
    web: Pod,
    api: Pod,
    backend_addr: String,
    relay_id: String,
    relay_cgroup: String,
}

fn mesh(tag: &str, subnet: u8) -> Mesh {
    let mut web = Pod::new(&format!("{tag}-web"));
    let mut api = Pod::new(&format!("{tag}-api"));
    link(&mut web, &mut api, subnet);
    let backend_addr = api.addr.clone().unwrap();
    let (relay_id, relay_cgroup) = web.add_container();
    Mesh { web, api, backend_addr, relay_id, relay_cgroup }
}

/// A child killed at the end, also when the test fails, with its stdout's lines.
fn spawned(command: &mut std::process::Command) -> (Killed, Lines<BufReader<ChildStdout>>) {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (Killed(child), lines)
}

fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    lines.next().expect("a line").unwrap()
}

/// The backend (tests/scripts/keepalive_backend.py, answering at once) in
/// `api` and the relay (keepalive_relay.py) in the web pod's relay container.
fn backend_and_relay(mesh: &Mesh) -> ((Killed, Lines<BufReader<ChildStdout>>), (Killed, Lines<BufReader<ChildStdout>>)) {
    let mut backend = spawned(&mut mesh.api.command(&["python3", &script("keepalive_backend.py")]));
    assert_eq!(next_line(&mut backend.1), "ready");
    let mut relay = spawned(&mut mesh.web.command_in(&mesh.relay_cgroup, &["python3", &script("keepalive_relay.py"), &mesh.backend_addr]));
    assert_eq!(next_line(&mut relay.1), "ready");
    (backend, relay)
}

fn time_ns(r: &Value) -> i128 {
    r["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_nanosecond()
}

fn container_of(r: &Value) -> &str {
    r["container"]["id"].as_str().unwrap_or_default()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_sidecar_whose_connections_stay_open_is_billed_while_they_live() {
    require_root();
    let mesh = mesh("lc", 83);
    let mut podtop = Podtop::start(&["--events", "net", "--interval", "1"]);
    let (backend, mut relay) = backend_and_relay(&mesh);
    // One connection from the app to the relay, one from the relay to the
    // backend, for the whole run: the relay holds each response 2 ms, then 6.
    let mut client = spawned(&mut mesh.web.command(&[
        "python3",
        &script("keepalive_client.py"),
        "127.0.0.1",
        "15001",
        "0.002:5",
        "0.006:5",
        "--hold",
    ]));
    let mut phases = Vec::new();
    let done = loop {
        let line = next_line(&mut client.1);
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["phase", delay, at] => phases.push((delay.to_string(), at.parse::<i128>().unwrap())),
            // Read at once: the traffic's end, near enough for where the last phase's bills end.
            ["done", _] => break std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i128,
            _ => panic!("client said {line}"),
        }
    };
    std::thread::sleep(Duration::from_millis(1500));
    let records = podtop.stop();
    // The connections close only now, after podtop stopped: no close was seen.
    drop(client.0 .0.stdin.take());
    assert!(wait_timeout(&mut client.0 .0, Duration::from_secs(10)).is_some_and(|s| s.success()));
    let measured: Vec<(String, u64)> = relay
        .1
        .by_ref()
        .map(|l| l.unwrap())
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (w[0].to_string(), w[1].parse().unwrap())
        })
        .collect();
    drop(backend);

    let app_closes = of_type(&records, "close").filter(|r| r["pod"]["uid"] == mesh.web.uid.as_str()).count();
    assert_eq!(app_closes, 0, "the connections stay open all run");
    let bills: Vec<&Value> = of_type(&records, "sidecar").filter(|r| container_of(r) == mesh.relay_id).collect();
    assert!(!bills.is_empty(), "the relay is found from its accept and its connect");
    for (i, (delay, start)) in phases.iter().enumerate() {
        let end = phases.get(i + 1).map_or(done, |(_, at)| *at);
        let held = measured.iter().find(|(d, _)| d == delay).map(|(_, ns)| *ns as f64 / 1e6).expect("the relay's own figure");
        let estimates: Vec<(f64, Option<f64>)> = bills
            .iter()
            .filter(|b| time_ns(b) > *start && time_ns(b) <= end)
            .map(|b| ((time_ns(b) - start) as f64 / 1e9, b["sidecar"]["added_latency_p50_ns"].as_u64().map(|ns| ns as f64 / 1e6)))
            .collect();
        eprintln!("relay holding {delay} s: {held:.3} ms measured in the relay; billed (s after the phase began, ms): {estimates:?}");
        let near = |ms: &Option<f64>| ms.is_some_and(|ms| (ms - held).abs() <= 0.25 * held);
        let first_three: Vec<_> = estimates.iter().filter(|(after, _)| *after <= 3.0 + 0.5).collect();
        assert!(first_three.iter().any(|(_, ms)| near(ms)), "within three intervals of {delay} s: {first_three:?} against {held:.3} ms");
        // From then on, every interval wholly inside the phase.
        let settled: Vec<_> = estimates.iter().filter(|(after, _)| *after > 2.0 + 0.5 && *after < (end - start) as f64 / 1e9).collect();
        assert!(settled.iter().all(|(_, ms)| near(ms)), "settled, {delay} s: {settled:?} against {held:.3} ms");
    }
}

#[test]
fn a_keep_alive_connections_progress_records_and_close_add_up_to_its_bytes() {
    require_root();
    let mesh = mesh("lk", 84);
    let mut podtop = Podtop::start(&["--events", "net", "--interval", "1"]);
    let (backend, relay) = backend_and_relay(&mesh);
    let mut client = spawned(&mut mesh.web.command(&["python3", &script("keepalive_client.py"), "127.0.0.1", "15001", "0:4.5"]));
    let requests: u64 = loop {
        let line = next_line(&mut client.1);
        if let Some(n) = line.strip_prefix("done ") {
            break n.parse().unwrap();
        }
    };
    assert!(wait_timeout(&mut client.0 .0, Duration::from_secs(10)).is_some_and(|s| s.success()));
    // The relay closes both its connections as the app's closes.
    let closes_seen = |r: &Value| r["type"] == "close" && r["pod"]["uid"] == mesh.api.uid.as_str() && r["net"]["sport"] == 8080;
    podtop.wait_for(Duration::from_secs(10), closes_seen);
    std::thread::sleep(Duration::from_millis(500));
    let records = podtop.stop();
    drop((backend, relay));

    // Each of the four ends: the app's, the relay's two, the backend's.
    let ends: [(&str, &str, &Value, u64, u64); 4] = [
        ("app", &mesh.web.uid, &Value::from(15001), 100, 1000),
        ("relay, accepted", &mesh.web.uid, &Value::Null, 1000, 100),
        ("relay, upstream", &mesh.web.uid, &Value::from(8080), 100, 1000),
        ("backend", &mesh.api.uid, &Value::Null, 1000, 100),
    ];
    for (name, pod, dport, tx_each, rx_each) in ends {
        let of_end = |r: &&Value| {
            r["pod"]["uid"] == pod
                && match name {
                    "relay, accepted" => r["net"]["sport"] == 15001,
                    "backend" => r["net"]["sport"] == 8080,
                    _ => r["net"]["dport"] == *dport,
                }
        };
        let closes: Vec<&Value> = of_type(&records, "close").filter(of_end).collect();
        assert_eq!(closes.len(), 1, "{name}: one connection, one close");
        let close = closes[0];
        let cookie = &close["net"]["cookie"];
        let progress: Vec<&Value> = of_type(&records, "progress").filter(of_end).filter(|r| &r["net"]["cookie"] == cookie).collect();
        let sum = |field: &str| progress.iter().map(|r| u64_of(&r["net"][field])).sum::<u64>();
        let (tx, rx) = (sum("tx_bytes") + u64_of(&close["net"]["tail_tx_bytes"]), sum("rx_bytes") + u64_of(&close["net"]["tail_rx_bytes"]));
        eprintln!(
            "{name}: {} progress records of tx {:?}, then a close of tx {} (tail {})",
            progress.len(),
            progress.iter().map(|r| u64_of(&r["net"]["tx_bytes"])).collect::<Vec<_>>(),
            close["net"]["tx_bytes"],
            close["net"]["tail_tx_bytes"]
        );
        assert!(progress.len() >= 3, "{name}: 4.5 s of requests at a 1 s interval: {} progress records", progress.len());
        assert_eq!((tx, rx), (requests * tx_each, requests * rx_each), "{name}: the progress records and the close's tail are every byte");
        assert_eq!((u64_of(&close["net"]["tx_bytes"]), u64_of(&close["net"]["rx_bytes"])), (tx, rx), "{name}: the close's totals stay whole");
        // The turns too: the asking ends' exchanges and the answering ends' replies, one per request.
        let turns = if tx_each == 100 { "exchanges" } else { "replies" };
        assert_eq!(u64_of(&close["net"][turns]), requests, "{name}: {turns} at close, whole");
        assert!(sum(turns) <= requests && sum(turns) > 0, "{name}: {turns} in progress records: {}", sum(turns));
    }
}

/// A keep-alive connection open before podtop, with a request in flight as
/// podtop starts: both ends are adopted (their records marked, their roles
/// from the listener), the in-flight request is left out at both ends rather
/// than paired with a wrong request, and the requests after it are seen at
/// both ends, with the connection's bytes from the adoption on exact.
#[test]
fn connections_older_than_podtop_are_adopted_with_their_requests() {
    require_root();
    const AFTER: u64 = 100;
    let mut web = Pod::new("la-web");
    let mut api = Pod::new("la-api");
    link(&mut web, &mut api, 85);
    let server_addr = api.addr.clone().unwrap();
    let mut server = spawned(&mut api.command(&["python3", &script("adopted_server.py")]));
    assert_eq!(next_line(&mut server.1), "ready");
    let mut client = spawned(&mut web.command(&["python3", &script("adopted_client.py"), &server_addr, &AFTER.to_string()]));
    assert_eq!(next_line(&mut client.1), "in flight");
    assert_eq!(next_line(&mut server.1), "holding");

    let mut podtop = Podtop::start(&["--events", "net,http", "--interval", "1"]);
    use std::io::Write;
    let (server_stdin, client_stdin) = (server.0 .0.stdin.as_mut().unwrap(), client.0 .0.stdin.as_mut().unwrap());
    writeln!(server_stdin).unwrap();
    let waiting = next_line(&mut client.1);
    let in_flight_answer: u64 = waiting.strip_prefix("waiting ").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("client said {waiting}"));
    writeln!(client_stdin).unwrap();
    let counted = next_line(&mut client.1);
    let (tx, rx): (u64, u64) = match counted.split(' ').collect::<Vec<_>>()[..] {
        ["counted", tx, rx] => (tx.parse().unwrap(), rx.parse().unwrap()),
        _ => panic!("client said {counted}"),
    };
    drop(client.0 .0.stdin.take());
    assert!(wait_timeout(&mut client.0 .0, Duration::from_secs(10)).is_some_and(|s| s.success()));
    let server_closed = |r: &Value| r["type"] == "close" && r["pod"]["uid"] == api.uid.as_str();
    podtop.wait_for(Duration::from_secs(10), server_closed);
    std::thread::sleep(Duration::from_millis(300));
    let records = podtop.stop();
    drop(server);

    // fexit (kernels before 6.5) sees a call only if it began after the
    // attach: the client's receive of the in-flight answer was already
    // waiting as podtop started. The tracepoints of 6.5 and later fire as
    // the receive returns.
    let start = of_type(&records, "start").next().expect("the start record");
    let blocked_receive_seen = start["capabilities"]["tcp_bytes_received"] != serde_json::json!(["on_tcp_recvmsg"]);
    let client_rx = if blocked_receive_seen { rx } else { rx - in_flight_answer };
    for (end, pod, opened, role, (end_tx, end_rx)) in [("client", &web, "connect", "client", (tx, client_rx)), ("server", &api, "accept", "server", (rx, tx))] {
        let ours = |r: &&Value| r["pod"]["uid"] == pod.uid.as_str() && r["net"]["proto"] == "tcp";
        let opens: Vec<&Value> = of_type(&records, opened).filter(ours).collect();
        assert_eq!(opens.len(), 1, "{end}: one {opened} record, the adoption's: {opens:?}");
        let open = opens[0];
        assert_eq!((open["net"]["adopted"].as_bool(), open["net"]["role"].as_str()), (Some(true), Some(role)), "{end}: {open}");
        assert_eq!(open["process"]["comm"], "python3", "{end}: owned by the process whose file it is: {open}");
        let closes: Vec<&Value> = of_type(&records, "close").filter(ours).collect();
        assert_eq!(closes.len(), 1, "{end}: one close: {closes:?}");
        let close = closes[0];
        assert_eq!(close["net"]["cookie"], open["net"]["cookie"], "{end}: the adopted connection closes");
        assert_eq!(close["net"]["adopted"].as_bool(), Some(true), "{end}: {close}");
        let progress: Vec<&Value> = of_type(&records, "progress").filter(ours).collect();
        assert!(progress.iter().all(|r| r["net"]["adopted"].as_bool() == Some(true)), "{end}: progress records marked too");
        assert_eq!(
            (u64_of(&close["net"]["tx_bytes"]), u64_of(&close["net"]["rx_bytes"])),
            (end_tx, end_rx),
            "{end}: every byte since the adoption (the in-flight answer, unless its receive was waiting under fexit, and {AFTER} requests), none from before"
        );
        let paths: Vec<&str> = of_type(&records, "http").filter(ours).map(|r| r["http"]["path"].as_str().unwrap()).collect();
        let expected: Vec<String> = (0..AFTER).map(|i| format!("/after/{i}")).collect();
        assert_eq!(paths, expected, "{end}: the requests after the adoption, in order; the one in flight left out");
        assert!(of_type(&records, "http").filter(ours).all(|r| r["http"]["status"] == 200 && r["http"]["role"] == role), "{end}: answered 200");
    }
}
