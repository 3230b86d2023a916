//! What podtop keeps follows what exists now, not the node's history: the
//! tables forget what closed (the `stats` record's `tables` say so).

mod common;

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn listeners_in(record: &Value) -> Option<u64> {
    if record["type"] != "stats" {
        return None;
    }
    record["tables"]["listeners"]["entries"].as_u64()
}

/// The listeners' entries of the first stats record after the first `after`
/// records that `wanted` accepts; fails the test past `timeout`.
fn listeners_after(podtop: &Podtop, after: usize, timeout: Duration, what: &str, wanted: impl Fn(u64) -> bool) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let records = podtop.records();
        for entries in records.iter().skip(after).filter_map(listeners_in) {
            if wanted(entries) {
                return entries;
            }
            seen.push(entries);
        }
        assert!(Instant::now() < deadline, "no stats record with {what} within {timeout:?}: listeners {seen:?}; {}", podtop.said());
        seen.clear();
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn listeners_are_forgotten_at_their_close_also_on_ports_the_kernel_chose() {
    require_root();
    let podtop = Podtop::start(&["--events", "net"]);
    let before = listeners_after(&podtop, 0, Duration::from_secs(10), "any listeners", |_| true);
    // Ports the kernel chose (bind to 0: the port goes back to the kernel
    // before the socket's state becomes CLOSE) and one chosen here.
    let mut listeners: Vec<TcpListener> = (0..50).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.push(TcpListener::bind(("127.0.0.1", free_port())).unwrap());
    let mark = podtop.records().len();
    listeners_after(&podtop, mark, Duration::from_secs(10), "the 51 listeners", |n| n >= before + 51);
    drop(listeners);
    let mark = podtop.records().len();
    listeners_after(&podtop, mark, Duration::from_secs(10), "the 51 listeners forgotten", |n| n <= before);
}
