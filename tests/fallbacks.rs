//! The stand-ins podtop uses where a kernel lacks the best source, forced on
//! any kernel with --skip-probes, and checked for exact figures. make
//! test-kernels runs these on Debian's 6.1 and 6.12, where they are what a
//! user of those kernels gets.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// (client tx, client rx) of each of the three connections of
/// tests/scripts/three_closes.py: the client closes first; the server
/// closes first and the client reads end of file; a half-close (shutdown)
/// and more data back.
const EXPECTED: [(u64, u64); 3] = [(5000, 300), (7000, 123), (999, 4444)];

/// Runs three_closes.py under podtop with `skip` turned off and checks every
/// close record of both ends to the byte; returns podtop's start record.
fn three_closes_are_exact(skip: &str) -> Value {
    let mut podtop = Podtop::start(&["--events", "net", "--skip-probes", skip]);
    let out = Command::new("python3").arg(script("three_closes.py")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ports: Vec<u64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|p| p.parse().unwrap()).collect();
    let closes_of = |records: &[Value], port: u64| -> Vec<Value> {
        of_type(records, "close").filter(|r| r["net"]["sport"] == port || r["net"]["dport"] == port).cloned().collect()
    };
    let last = ports[2];
    podtop.wait_for(Duration::from_secs(10), |r| r["type"] == "close" && (r["net"]["sport"] == last || r["net"]["dport"] == last));
    std::thread::sleep(Duration::from_millis(1500));
    let records = podtop.stop();
    for (port, (tx, rx)) in ports.iter().zip(EXPECTED) {
        let closes = closes_of(&records, *port);
        assert_eq!(closes.len(), 2, "both ends of the connection from port {port} closed: {closes:?}");
        for close in closes {
            let (want_tx, want_rx) = if close["net"]["sport"] == *port { (tx, rx) } else { (rx, tx) };
            assert_eq!((close["net"]["tx_bytes"].as_u64(), close["net"]["rx_bytes"].as_u64()), (Some(want_tx), Some(want_rx)), "{close}");
        }
    }
    // The per-cgroup counters carry the same bytes (loopback: the local ones).
    let python_cgroup = records.iter().find(|r| r["type"] == "close").unwrap()["cgroup"]["id"].clone();
    let counted: u64 = of_type(&records, "counters")
        .filter(|r| r["cgroup"]["id"] == python_cgroup)
        .map(|r| r["counters"]["tcp_local_tx_bytes"].as_u64().unwrap())
        .sum();
    let total: u64 = EXPECTED.iter().map(|(tx, rx)| tx + rx).sum();
    assert!(counted >= total, "counters record the connections' {total} bytes (and any other loopback traffic there): {counted}");
    records[0].clone()
}

#[test]
fn tcp_totals_from_sequence_numbers_are_exact() {
    require_root();
    // As on a kernel older than 6.5 that refuses fexit (lockdown): nothing
    // counts socket bytes as they pass.
    let skip = "on_sock_send,on_sock_recv,on_tcp_sendmsg,on_tcp_recvmsg,on_udp_sendmsg,on_udp_recvmsg,on_udpv6_sendmsg,on_udpv6_recvmsg";
    let start = three_closes_are_exact(skip);
    assert_eq!(start["capabilities"]["tcp_bytes_sent"], serde_json::json!(["on_sock_state"]));
    assert!(start["degraded"]["tcp_bytes_received"].as_str().unwrap().contains("sequence numbers"), "{start}");
    assert_eq!(start["unavailable"]["udp_bytes_sent"], "UDP datagrams and bytes read 0", "said, not silently zero");
}

#[test]
fn fexit_counts_socket_bytes_where_the_kernel_allows_it() {
    require_root();
    // As on a kernel older than 6.5 (Debian 12's 6.1): no sock_*_length tracepoints.
    let start = three_closes_are_exact("on_sock_send,on_sock_recv");
    let probes = &start["probes"];
    if probes["on_tcp_sendmsg"]["status"] == "attached" {
        assert_eq!(start["capabilities"]["tcp_bytes_sent"], serde_json::json!(["on_tcp_sendmsg"]));
        assert_eq!(start["capabilities"]["udp_bytes_received"][0], "on_udp_recvmsg");
        assert_eq!(start["degraded"], serde_json::json!({}));
        // UDP through fexit, to the byte and datagram.
        let mut podtop = Podtop::start(&["--events", "net", "--skip-probes", "on_sock_send,on_sock_recv"]);
        let out = Command::new("python3").arg(script("udp_datagrams.py")).output().unwrap();
        let port: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        podtop.wait_for(Duration::from_secs(5), |r| r["type"] == "udp" && r["net"]["sport"] == port);
        let records = podtop.stop();
        let sent: u64 = of_type(&records, "udp").filter(|r| r["net"]["sport"] == port).map(|r| r["net"]["tx_bytes"].as_u64().unwrap()).sum();
        assert_eq!(sent, 4 * 77);
    } else {
        // This project's own machines refuse fexit: said so, and TCP falls back to sequence numbers.
        assert_eq!(probes["on_tcp_sendmsg"]["status"], "failed", "{probes}");
        assert!(probes["on_tcp_sendmsg"]["reason"].as_str().unwrap().contains("refused"), "{probes}");
        assert!(start["degraded"]["tcp_bytes_sent"].is_string(), "{start}");
    }
}

#[test]
fn exit_without_group_dead_reports_each_process_once() {
    require_root();
    // As on kernels before 6.16, whose sched_process_exit has no group_dead.
    let mut podtop = Podtop::start(&["--events", "exec", "--skip-probes", "on_exit"]);
    assert_eq!(podtop.records()[0]["probes"]["on_exit_live"]["status"], "attached");
    // Eight threads that end together with the process, a process whose
    // main thread ends first, and plain exits with a code and a signal.
    let mut pids = HashMap::new();
    for (name, expect) in [("exit_with_threads.py", "code 7"), ("exit_main_thread_first.py", "code 0")] {
        let child = Command::new("python3").arg(script(name)).spawn().unwrap();
        let pid = u64::from(child.id());
        child.wait_with_output().unwrap();
        pids.insert(pid, expect);
    }
    let killed = Command::new("sleep").arg("30").spawn().unwrap();
    let killed_pid = u64::from(killed.id());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(killed.id() as i32, libc::SIGKILL) };
    killed.wait_with_output().unwrap();
    pids.insert(killed_pid, "signal 9");
    podtop.wait_for(Duration::from_secs(5), |r| r["type"] == "exit" && r["process"]["pid"] == killed_pid);
    std::thread::sleep(Duration::from_millis(500));
    let records = podtop.stop();
    for (pid, expect) in pids {
        let exits: Vec<&Value> = of_type(&records, "exit").filter(|r| r["process"]["pid"] == pid).collect();
        assert_eq!(exits.len(), 1, "one exit record for pid {pid}: {exits:?}");
        let e = &exits[0]["exit"];
        let got = match (e["code"].as_u64(), e["signal"].as_u64()) {
            (Some(code), None) => format!("code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(got, expect, "pid {pid}");
    }
}
