//! The real app state and rendering, driven by scripted observations through
//! ratatui's TestBackend, checked with insta snapshots. No root needed.

use std::net::SocketAddr;
use std::sync::Arc;

use insta::assert_snapshot;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Screen};
use crate::records::run::{RunInfo, Source};
use super::screen_text;
use crate::aggregate::model::NodeModel;
use crate::aggregate::observation::{ConnKind, Connection, ProcessEvent, KernelTotals, Observation, ProcessRef, Action};
use crate::enrich::Attribution;
use crate::events::{CgroupCounters, EventClasses};
use crate::records::fixtures::{attribution, T0};
use crate::records::PodtopCost;
use crate::sidecars::{AddedLatency, Relayed, SidecarBill};

mod detail;
mod events;
mod help;
mod model;
mod node;
mod sidecar;
mod sizes;

fn owner(cgroup_id: u64, pod: Option<(&str, &str)>, container: Option<(&str, &str)>) -> Arc<Attribution> {
    let mut owner = attribution(cgroup_id).path(&format!("/cg/{cgroup_id}"));
    if let Some((id, name)) = container {
        owner = owner.container(&id.repeat(16), name);
    }
    if let Some((uid, name)) = pod {
        owner = owner.pod(uid, name);
    }
    owner.build()
}

fn happened(at: u64, owner: &Arc<Attribution>, pid: u32, ppid: u32, comm: &str, action: Action) -> Observation {
    Observation::Process(ProcessEvent {
        unix_ns: T0 + at * 1_000_000_000,
        owner: owner.clone(),
        process: ProcessRef { pid, ppid, comm: comm.into() },
        action,
    })
}

fn counters(owner: &Arc<Attribution>, fields: &[(&str, u64)]) -> Observation {
    let mut delta = CgroupCounters::default();
    for (name, value) in fields {
        assert!(delta.set(name, *value), "{name}");
    }
    Observation::Counters { owner: owner.clone(), delta }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[allow(clippy::too_many_arguments)] // one per field of the connection, named at each call
fn connection(kind: ConnKind, local: &str, remote: &str, tx: u64, rx: u64, cookie: u64, peer: Option<Arc<Attribution>>, visible: bool) -> Action {
    Action::Connection(Connection { kind, local: addr(local), remote: addr(remote), tx_bytes: tx, rx_bytes: rx, cookie, peer, sidecar_visible: visible, dname: None })
}

/// A node with three pods (one with a sidecar) and the host, two intervals long.
fn scripted_app() -> App {
    let web = owner(10, Some(("aaaa-1111", "web-0")), Some(("a", "app")));
    let proxy = owner(11, Some(("aaaa-1111", "web-0")), Some(("b", "envoy")));
    let api = owner(20, Some(("bbbb-2222", "api-7d4b9")), Some(("c", "api")));
    let db = owner(30, Some(("cccc-3333", "db-0")), Some(("d", "postgres")));
    let host = owner(1, None, None);
    let mut model = NodeModel::new(1.0);
    let mut script = vec![
        happened(0, &web, 100, 1, "python3", Action::Exec { filename: "/usr/bin/python3".into(), args: vec!["python3".into(), "web.py".into()] }),
        happened(0, &proxy, 101, 1, "envoy", Action::Exec { filename: "/usr/bin/envoy".into(), args: vec!["envoy".into(), "-c".into(), "/etc/envoy.yaml".into()] }),
        happened(0, &api, 200, 1, "api", Action::Exec { filename: "/app/api".into(), args: vec!["/app/api".into(), "--port".into(), "8080".into()] }),
        happened(1, &api, 201, 200, "sh", Action::Exec { filename: "/bin/sh".into(), args: vec!["sh".into(), "-c".into(), "date".into()] }),
        happened(1, &web, 100, 1, "python3", connection(ConnKind::Connect, "127.0.0.1:40000", "127.0.0.1:15001", 0, 0, 1, None, false)),
        happened(1, &proxy, 101, 1, "envoy", connection(ConnKind::Connect, "10.244.0.10:41000", "10.244.0.20:8080", 0, 0, 2, Some(api.clone()), true)),
        happened(1, &api, 200, 1, "api", connection(ConnKind::Accept, "10.244.0.20:8080", "10.244.0.10:41000", 0, 0, 3, Some(proxy.clone()), true)),
        happened(2, &proxy, 101, 1, "envoy", connection(ConnKind::Close, "10.244.0.10:41000", "10.244.0.20:8080", 26, 1019, 2, Some(api.clone()), true)),
        happened(2, &api, 200, 1, "api", Action::FileIo { path: Some("/var/log/api.log".into()), read_bytes: 0, write_bytes: 4096 }),
        happened(2, &api, 200, 1, "api", Action::FileIo { path: Some("/etc/services".into()), read_bytes: 12813, write_bytes: 0 }),
        happened(2, &db, 300, 1, "postgres", Action::Udp { local: addr("10.244.0.30:8125"), remote: None, dname: None, tx_bytes: 0, rx_bytes: 21, datagrams: 1 }),
        happened(2, &host, 1, 0, "systemd", Action::Exit { code: Some(0), signal: None }),
    ];
    for (second, scale) in [(1u64, 1u64), (2, 2)] {
        script.push(counters(&web, &[("execs", scale), ("opens", 10 * scale), ("file_reads", 20), ("tcp_local_connections", 2 * scale), ("tcp_local_tx_bytes", 26)]));
        script.push(counters(&proxy, &[("tcp_connects", 3 * scale), ("tcp_closes", scale), ("tcp_tx_bytes", 78 * scale), ("tcp_rx_bytes", 3057 * scale)]));
        script.push(counters(&api, &[("execs", 2), ("opens", 40 * scale), ("file_read_bytes", 12813), ("file_write_bytes", 4096), ("tcp_accepts", 3), ("tcp_tx_bytes", 3057), ("tcp_rx_bytes", 78)]));
        script.push(counters(&db, &[("opens", 4), ("udp_rx_datagrams", 5 * scale), ("udp_rx_bytes", 105)]));
        script.push(counters(&host, &[("execs", 7), ("opens", 300 * scale), ("file_read_bytes", 1 << 20)]));
        // web-0's envoy relays its app's connections: its bill for the interval.
        let bill = SidecarBill {
            hint: Some("envoy"),
            cpu_cores: Some(0.0125 * scale as f64),
            memory_bytes: None,
            rss_bytes: Some(21 << 20),
            added_latency: Some(AddedLatency { p50_ns: 310_000, p99_ns: Some(1_450_000) }),
            relayed: Relayed {
                connections: scale,
                tx_bytes: 26 * scale,
                rx_bytes: 1019 * scale,
                exchanges: scale,
                bypass_connections: 0,
                bypass: Vec::new(),
            },
        };
        let podtop = PodtopCost { cpu_cores: Some(0.004), bpf_cores: None, rss_bytes: Some(46 << 20) };
        script.push(Observation::Sidecars { bills: vec![(proxy.clone(), bill)], podtop });
        script.push(Observation::Tick {
            unix_ns: T0 + second * 1_000_000_000,
            totals: KernelTotals { seen: 500 * second, lost: 0, dropped: 0, bpf_run_time_ns: Some(2_000_000 * second) },
        });
    }
    for o in script {
        model.apply(o);
    }
    let run = RunInfo { node: "node-1".into(), kernel: "6.18.44".into(), probes_attached: 9, probes_skipped: 0, source: Source::Live { recording: false }, classes: Some(EventClasses::ALL) };
    let mut app = App::new(model, run);
    app.color = false;
    app
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\u{1b}' => KeyCode::Esc,
            '\t' => KeyCode::Tab,
            c => KeyCode::Char(c),
        };
        app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    }
}

/// The scripted node, watching requests, with one more interval in which
/// web-0's app asks its envoy, the envoy asks api, and api answers: ten
/// requests, two of them 503; and one request inside web-0's app container.
fn requests_app() -> App {
    use crate::l7::exchanges::Role;
    use crate::records::fixtures::{feed_request, Request};
    use crate::aggregate::from_records::ObservationSink;

    let mut app = scripted_app();
    app.run.classes = Some(EventClasses(EventClasses::ALL.0 | EventClasses::HTTP));
    let web = owner(10, Some(("aaaa-1111", "web-0")), Some(("a", "app")));
    let proxy = owner(11, Some(("aaaa-1111", "web-0")), Some(("b", "envoy")));
    let api = owner(20, Some(("bbbb-2222", "api-7d4b9")), Some(("c", "api")));
    let (to_ui, from_pipeline) = std::sync::mpsc::sync_channel(64);
    let mut sink = ObservationSink::new(to_ui);
    let at = T0 + 2_500_000_000;
    for i in 1..=10u64 {
        let (method, path, status) = if i <= 8 { ("GET", "/api/items", 200) } else { ("POST", "/api/orders", 503) };
        let ms = |ms: u64| Some(ms * 1_000_000);
        let request = |owner, pid, comm, role, latency_ns, local: &str, remote: &str, peer, sidecar_visible| Request {
            owner,
            pid,
            comm,
            role,
            method,
            path,
            status: Some(status),
            latency_ns,
            local: addr(local),
            remote: addr(remote),
            peer,
            sidecar_visible,
        };
        // api serves it: 1 to 10 ms.
        feed_request(&mut sink, at, &request(&api, 200, b"api", Role::Server, ms(i), "10.244.0.20:8080", "10.244.0.10:41000", Some(&proxy), true));
        // The envoy asks api, across the pod's boundary: 0.3 ms more, the last one 11 ms.
        let client_ns = if i < 10 { Some(i * 1_000_000 + 300_000) } else { ms(11) };
        feed_request(&mut sink, at, &request(&proxy, 101, b"envoy", Role::Client, client_ns, "10.244.0.10:41000", "10.244.0.20:8080", Some(&api), true));
        // The app's hop to its envoy, seen at both ends: inside the pod.
        feed_request(&mut sink, at, &request(&web, 100, b"python3", Role::Client, ms(12), "127.0.0.1:40000", "127.0.0.1:15001", Some(&proxy), false));
        feed_request(&mut sink, at, &request(&proxy, 101, b"envoy", Role::Server, ms(12), "127.0.0.1:15001", "127.0.0.1:40000", Some(&web), false));
    }
    // A request from the app to itself over loopback: no proxy sees it.
    let cache = Request {
        owner: &web,
        pid: 100,
        comm: b"python3",
        role: Role::Server,
        method: "GET",
        path: "/cache/k",
        status: Some(200),
        latency_ns: Some(200_000),
        local: addr("127.0.0.1:6379"),
        remote: addr("127.0.0.1:40002"),
        peer: Some(&web),
        sidecar_visible: false,
    };
    feed_request(&mut sink, at, &cache);
    crate::records::Sink::flush(&mut sink).unwrap();
    for o in from_pipeline.try_iter().flatten() {
        app.model.apply(o);
    }
    app.model.apply(Observation::Tick {
        unix_ns: T0 + 3_000_000_000,
        totals: KernelTotals { seen: 1500, lost: 0, dropped: 0, bpf_run_time_ns: Some(6_000_000) },
    });
    app
}

/// A node-view row's cells after its name.
fn row_cells(screen: &str, name: &str) -> Vec<String> {
    let line = screen.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no {name}:\n{screen}"));
    line.split(name).nth(1).unwrap().split_whitespace().map(|c| c.trim_matches('│').to_string()).filter(|c| !c.is_empty()).collect()
}

/// The scripted node, watching DNS, with one more interval in which web-0's
/// app looks up api.shop.test three times (1, 2 and 3 ms), missing.shop.test
/// once (NXDOMAIN) and flaky.shop.test twice (SERVFAIL, then no answer);
/// db-0 runs a resolver that answers two lookups; and web-0's envoy
/// connects to the address api.shop.test gave, the record carrying the name.
fn names_app() -> App {
    use crate::l7::exchanges::Role;
    use crate::records::fixtures::{feed_lookup, LookupScript};
    use crate::aggregate::from_records::ObservationSink;

    let mut app = scripted_app();
    app.run.classes = Some(EventClasses(EventClasses::ALL.0 | EventClasses::DNS));
    let web = owner(10, Some(("aaaa-1111", "web-0")), Some(("a", "app")));
    let proxy = owner(11, Some(("aaaa-1111", "web-0")), Some(("b", "envoy")));
    let db = owner(30, Some(("cccc-3333", "db-0")), Some(("d", "postgres")));
    let (to_ui, from_pipeline) = std::sync::mpsc::sync_channel(64);
    let mut sink = ObservationSink::new(to_ui);
    let at = T0 + 2_500_000_000;
    let api_address: [std::net::IpAddr; 1] = ["10.244.0.20".parse().unwrap()];
    let ask = |qname, rcode, answers, latency_ns| LookupScript {
        owner: &web,
        pid: 100,
        comm: b"python3",
        role: Role::Client,
        qname,
        qtype: 1,
        rcode,
        answers,
        latency_ns,
        local: addr("10.244.0.10:53000"),
        remote: addr("10.96.0.10:53"),
    };
    for ms in 1..=3u64 {
        feed_lookup(&mut sink, at, &ask("api.shop.test", Some(0), &api_address, Some(ms * 1_000_000)));
    }
    feed_lookup(&mut sink, at, &ask("missing.shop.test", Some(3), &[], Some(500_000)));
    feed_lookup(&mut sink, at, &ask("flaky.shop.test", Some(2), &[], Some(4_000_000)));
    feed_lookup(&mut sink, at, &ask("flaky.shop.test", None, &[], None));
    for (qname, rcode, answers) in [("db.shop.test", 0, &api_address[..]), ("nope.shop.test", 3, &[][..])] {
        let served = LookupScript {
            owner: &db,
            pid: 301,
            comm: b"dnsmasq",
            role: Role::Server,
            qname,
            qtype: 1,
            rcode: Some(rcode),
            answers,
            latency_ns: Some(150_000),
            local: addr("10.244.0.30:53"),
            remote: addr("10.244.0.10:53001"),
        };
        feed_lookup(&mut sink, at, &served);
    }
    crate::records::Sink::flush(&mut sink).unwrap();
    for o in from_pipeline.try_iter().flatten() {
        app.model.apply(o);
    }
    let named = Action::Connection(Connection {
        kind: ConnKind::Connect,
        local: addr("10.244.0.10:41002"),
        remote: addr("10.244.0.20:8080"),
        tx_bytes: 0,
        rx_bytes: 0,
        cookie: 4,
        peer: None,
        sidecar_visible: true,
        dname: Some("api.shop.test".into()),
    });
    app.model.apply(happened(3, &proxy, 101, 1, "envoy", named));
    app.model.apply(Observation::Tick {
        unix_ns: T0 + 3_000_000_000,
        totals: KernelTotals { seen: 1500, lost: 0, dropped: 0, bpf_run_time_ns: Some(6_000_000) },
    });
    app
}
