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

#[test]
fn node_view() {
    assert_snapshot!(screen_text(&scripted_app(), 120, 16));
}

#[test]
fn node_view_expanded_and_sorted_by_name() {
    let mut app = scripted_app();
    // sort cycles from EXEC/s to the name column; expand the first pod
    for _ in 0..8 {
        press(&mut app, "s");
    }
    // The cursor stayed on the row it was on through the re-sorts: to the top.
    press(&mut app, "g ");
    assert_snapshot!(screen_text(&app, 120, 16));
}

#[test]
fn drill_down() {
    let mut app = scripted_app();
    press(&mut app, "j\n"); // second row: api-7d4b9 (sorted by EXEC/s)
    assert!(matches!(app.screen, Screen::Detail(_)));
    assert_snapshot!(screen_text(&app, 120, 24));
}

#[test]
fn sidecar_scope() {
    let mut app = scripted_app();
    press(&mut app, "/web\n");
    press(&mut app, "c");
    assert!(matches!(app.screen, Screen::Sidecar(_)));
    assert_snapshot!(screen_text(&app, 140, 24));
}

#[test]
fn events_pane_and_filter() {
    let mut app = scripted_app();
    press(&mut app, "e/api\n");
    assert_snapshot!(screen_text(&app, 120, 24));
}

#[test]
fn help() {
    let mut app = scripted_app();
    press(&mut app, "?");
    assert_snapshot!(screen_text(&app, 100, 24));
    let at_80x24 = screen_text(&app, 80, 24);
    for (keys, what) in super::screens::help::HELP {
        assert!(at_80x24.contains(what), "{keys}: {what:?} whole at 80x24:\n{at_80x24}");
    }
    assert!(at_80x24.contains("TCP connections across the pod's boundary."), "{at_80x24}");
    press(&mut app, "x");
    assert!(!app.help.shown && !app.quit, "any key closes the help");
}

#[test]
fn tiny_terminal() {
    assert_snapshot!(screen_text(&scripted_app(), 40, 8));
}

#[test]
fn keys_quit_and_navigate() {
    let mut app = scripted_app();
    press(&mut app, "jjjjjjjjjj");
    assert_eq!(app.node.selected, 3, "stops at the last row");
    press(&mut app, "k\u{1b}");
    assert_eq!(app.node.selected, 2);
    press(&mut app, "q");
    assert!(app.quit);
    let mut app = scripted_app();
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit, "Ctrl-C quits in raw mode");
}

#[test]
fn pods_that_ended_leave_the_view() {
    let mut app = scripted_app();
    assert!(app.model.groups.len() > 1);
    // Their processes gone and sixty quiet intervals later, only the host stays.
    for group in app.model.groups.values_mut() {
        group.processes.clear();
        group.connections.clear();
    }
    for second in 3..=70u64 {
        app.model.apply(Observation::Tick {
            unix_ns: T0 + second * 1_000_000_000,
            totals: KernelTotals { seen: 1000, lost: 0, dropped: 0, bpf_run_time_ns: None },
        });
    }
    let left: Vec<_> = app.model.groups.keys().cloned().collect();
    assert_eq!(left, vec![crate::aggregate::model::GroupKey::Host]);
}

#[test]
fn a_process_that_moves_to_a_pod_leaves_the_hosts_list() {
    // A container's first process starts outside it (a shell that writes
    // its pid into the container's cgroup, then execs): its exit comes from
    // the pod, and the host must not list it for ever.
    let mut model = NodeModel::new(1.0);
    let host = owner(1, None, None);
    let pod = owner(2, Some(("uid-1", "web-0")), Some(("c1", "app")));
    model.apply(happened(0, &host, 4242, 1, "sh", Action::Exec { filename: "/bin/sh".into(), args: vec!["sh".into()] }));
    model.apply(happened(1, &pod, 4242, 1, "python3", Action::Exec { filename: "/usr/bin/python3".into(), args: vec![] }));
    let host_key = crate::aggregate::model::GroupKey::Host;
    let pod_key = crate::aggregate::model::GroupKey::Pod("uid-1".into());
    assert!(!model.groups[&host_key].processes.contains_key(&4242), "moved: listed in the pod only");
    assert!(model.groups[&pod_key].processes.contains_key(&4242));
    model.apply(happened(2, &host, 4343, 1, "sh", Action::Exec { filename: "/bin/sh".into(), args: vec![] }));
    model.apply(happened(3, &pod, 4343, 1, "sh", Action::Exit { code: Some(0), signal: None }));
    assert!(!model.groups[&host_key].processes.contains_key(&4343), "its exit, from the pod, ends it everywhere");
}

/// The same records, once straight into the model (the live TUI) and once
/// through JSON and `podtop replay`'s reader: the same screens.
#[test]
fn a_recording_replays_to_the_model_its_records_make() {
    use crate::output::schema::Record;
    use crate::output::JsonSink;
    use crate::records::fixtures::feed_every_kind;
    use crate::aggregate::from_recording::RecordingReader;
    use crate::aggregate::from_records::ObservationSink;

    let (to_ui, from_pipeline) = std::sync::mpsc::sync_channel(64);
    let mut live = ObservationSink::new(to_ui);
    feed_every_kind(&mut live);
    let mut direct = NodeModel::new(1.0);
    for o in from_pipeline.try_iter().flatten() {
        direct.apply(o);
    }

    let mut json = JsonSink::new(Vec::new(), "node-1".into());
    feed_every_kind(&mut json);
    let mut reader = RecordingReader::default();
    let mut replayed = NodeModel::new(1.0);
    for line in String::from_utf8(json.into_inner()).unwrap().lines() {
        let record: Record = serde_json::from_str(line).unwrap();
        if let Some(o) = reader.observation(&record) {
            replayed.apply(o);
        }
    }

    let run = RunInfo { node: "node-1".into(), kernel: "6.18".into(), probes_attached: 9, probes_skipped: 0, source: Source::Live { recording: false }, classes: Some(EventClasses::ALL) };
    let mut screens = Vec::new();
    for model in [direct, replayed] {
        let mut app = App::new(model, run.clone());
        app.color = false;
        let mut shots = Vec::new();
        for keys in ["", "e", "\n", "c"] {
            press(&mut app, keys);
            shots.push(screen_text(&app, 160, 40));
        }
        screens.push(shots);
    }
    assert!(screens[0][0].contains("shop/backend-0"), "{}", screens[0][0]);
    // The name the pod looked up, in place of the address; its lookups in the drill-down.
    assert!(screens[0][1].contains("connect python3[4242] 10.244.1.2:40000 -> api.shop.test:9000 (10.244.2.3)"), "{}", screens[0][1]);
    assert!(screens[0][2].contains("│     2      0     0       1   180µs  api.shop.test A → 10.244.2.3"), "{}", screens[0][2]);
    for (direct, replayed) in screens[0].iter().zip(&screens[1]) {
        assert_eq!(direct, replayed);
    }
}

#[test]
fn the_selection_keeps_its_identity_through_resorts_new_rows_and_its_row_leaving() {
    use crate::aggregate::model::GroupKey;
    let mut app = scripted_app();
    app.follow_selection();
    let db = GroupKey::Pod("cccc-3333".into());
    for _ in 0..10 {
        if app.selected_group() == Some(db.clone()) {
            break;
        }
        press(&mut app, "j");
    }
    assert_eq!(app.selected_group(), Some(db.clone()), "picked by moving down");
    let picked_at = app.node.selected;
    let tick = |app: &mut App, second: u64| {
        app.model.apply(Observation::Tick {
            unix_ns: T0 + second * 1_000_000_000,
            totals: KernelTotals { seen: 1000 * second, lost: 0, dropped: 0, bpf_run_time_ns: None },
        });
        app.follow_selection();
    };

    // db-0 becomes the busiest: the rows re-sort, the cursor goes with it.
    let db_owner = owner(30, Some(("cccc-3333", "db-0")), Some(("d", "postgres")));
    app.model.apply(counters(&db_owner, &[("execs", 1000)]));
    tick(&mut app, 3);
    assert_eq!(app.selected_group(), Some(db.clone()));
    assert_eq!(app.node.selected, 0, "moved from row {picked_at} to the top, and the cursor with it");

    // A new, busier pod appears above it.
    let batch = owner(40, Some(("dddd-4444", "batch-1")), Some(("e", "job")));
    app.model.apply(counters(&batch, &[("execs", 5000)]));
    app.model.apply(counters(&db_owner, &[("execs", 1000)]));
    tick(&mut app, 4);
    assert_eq!((app.selected_group(), app.node.selected), (Some(db.clone()), 1));
    assert!(app.node.notice.is_none());

    // Enter and c open the chosen pod, whatever moved.
    press(&mut app, "\n");
    assert_eq!(app.screen, Screen::Detail(db.clone()));
    press(&mut app, "c");
    assert_eq!(app.screen, Screen::Sidecar(db.clone()));
    press(&mut app, "\u{1b}");

    // Its row leaves: the cursor goes to the row now in its place, and says so.
    app.model.groups.remove(&db);
    app.follow_selection();
    let now = app.selected_group().unwrap();
    assert_ne!(now, db);
    assert_eq!(app.node.selected, 1);
    let notice = app.node.notice.clone().unwrap();
    assert!(notice.starts_with("shop/db-0 left the list; the cursor is on "), "{notice}");
    assert!(screen_text(&app, 120, 16).contains("shop/db-0 left the list"), "shown in the footer");
    press(&mut app, "j");
    assert!(app.node.notice.is_none(), "said once");
}

/// Every screen at the sizes people run terminals at and at the smallest
/// podtop draws, for review by eye (`cargo insta review`): nothing cut where
/// a shorter layout would fit, no border running into another.
#[test]
fn every_screen_at_every_size() {
    let screens: [(&str, &str); 7] = [
        ("node", ""),
        ("node_events", "e"),
        ("detail", "/api\n\n"),
        ("detail_connections", "/web\n\n\t\t\t"),
        ("sidecar", "/web\nc"),
        ("sidecar_misses", "/web\nc\t"),
        ("help", "?"),
    ];
    for (screen, keys) in screens {
        for (cols, rows) in [(60, 12), (80, 24), (120, 40), (200, 50)] {
            let mut app = scripted_app();
            press(&mut app, keys);
            let text = screen_text(&app, cols, rows);
            if screen == "sidecar_misses" {
                // The numbers stay at every size: labels shorten, panes go behind Tab first.
                let cpu = text.lines().find(|l| l.contains("CPU  ")).unwrap_or_else(|| panic!("{cols}x{rows}:\n{text}"));
                assert!(cpu.contains("0.025 cores"), "{cols}x{rows}: {cpu}");
                if rows >= 24 {
                    let execs = text.lines().find(|l| l.contains("execs")).unwrap_or_else(|| panic!("{cols}x{rows}:\n{text}"));
                    assert!(execs.contains('%'), "{cols}x{rows}: {execs}");
                }
            }
            assert_snapshot!(format!("{screen}_{cols}x{rows}"), text);
        }
    }
}

#[test]
fn panes_scroll_on_their_own_and_tab_moves_between_them() {
    let mut app = scripted_app();
    let api = owner(20, Some(("bbbb-2222", "api-7d4b9")), Some(("c", "api")));
    for i in 0..60u32 {
        app.model.apply(happened(3, &api, 1000 + i, 200, "sh", Action::Exec { filename: "/bin/sh".into(), args: vec!["sh".into(), "-c".into(), format!("job {i}")] }));
    }
    press(&mut app, "/api\n\n");
    let picked = app.node.selected;
    let top = screen_text(&app, 120, 24);
    assert!(top.contains("▶ shop/api-7d4b9: processes"), "the first pane has the keys:\n{top}");
    assert!(top.contains("job 59") && !top.contains("job 0\n"), "newest first:\n{top}");
    press(&mut app, "\tG");
    let end = screen_text(&app, 120, 24);
    assert!(end.contains("▶ recent execs"), "Tab moved on:\n{end}");
    assert!(end.contains(" of 62 "), "the border says where the pane is:\n{end}");
    assert!(end.contains("job 0") && !end.contains("job 59"), "End reaches the list's end:\n{end}");
    press(&mut app, "kkk");
    assert!(screen_text(&app, 120, 24).contains("job 3 "), "scrolls back from the end at once");
    assert_eq!(app.node.selected, picked, "the node list behind did not move");
    press(&mut app, "\u{1b}");
    press(&mut app, "\n");
    assert!(screen_text(&app, 120, 24).contains("▶ shop/api-7d4b9: processes"), "a screen opens at its first pane, at the top");
    // Narrow: one pane at a time, the rest a Tab away.
    let narrow = screen_text(&app, 60, 12);
    assert!(narrow.contains("processes · 1/4 Tab") && !narrow.contains("recent execs"), "{narrow}");
    press(&mut app, "\t");
    assert!(screen_text(&app, 60, 12).contains("recent execs · 2/4 Tab"));
}

#[test]
fn tcp_columns_count_the_pod_boundary_or_loopback_never_both() {
    let mut app = scripted_app();
    press(&mut app, "/web\n ");
    let boundary = screen_text(&app, 160, 16);
    assert!(boundary.contains("TCP across pod boundaries") && boundary.contains("TCP TX/s"), "{boundary}");
    // The app container talks only to its proxy over loopback: nothing across the boundary.
    let app_row = |text: &str| text.lines().find(|l| l.contains("└ app")).unwrap().to_string();
    let cells = |line: String| line.trim_matches('│').split_whitespace().map(str::to_string).collect::<Vec<_>>();
    // └ app (containerd) PROCS EXEC OPEN FILE-R FILE-W TX RX ...
    assert_eq!(cells(app_row(&boundary))[8..10], ["0B", "0B"], "{boundary}");
    press(&mut app, "t");
    let loopback = screen_text(&app, 160, 16);
    assert!(loopback.contains("TCP over loopback") && loopback.contains("LO TX/s"), "{loopback}");
    assert_eq!(cells(app_row(&loopback))[8..10], ["26B", "0B"], "26 B a second over loopback:\n{loopback}");
}

#[test]
fn rates_are_averaged_over_ten_seconds() {
    // A pod that execs every 3 s: 0.3 or 0.4 a second, never 0 then 1.
    let mut model = NodeModel::new(1.0);
    let pod = owner(2, Some(("uid-1", "cron-0")), Some(("c1", "job")));
    let mut seen = Vec::new();
    for second in 1..=30u64 {
        if second % 3 == 0 {
            model.apply(counters(&pod, &[("execs", 1)]));
        }
        model.apply(Observation::Tick { unix_ns: T0 + second * 1_000_000_000, totals: KernelTotals::default() });
        if second >= 10 {
            let g = &model.groups[&crate::aggregate::model::GroupKey::Pod("uid-1".into())];
            seen.push(super::format::rate(g.activity.per_second(|c| c.execs)));
        }
    }
    assert!(seen.iter().all(|r| r == "0.3" || r == "0.4"), "{seen:?}");
    assert!(super::screens::help::HELP_NOTES.iter().any(|n| n.contains(&format!("over the last {} s", crate::aggregate::model::RATE_SPAN_SECONDS))));
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

#[test]
fn request_columns_count_one_interval() {
    let app = requests_app();
    let screen = screen_text(&app, 160, 16);
    // 160 columns: every column. Name, PROCS, EXEC/s, OPEN/s, FILE R/s, FILE W/s, TCP TX/s, TCP RX/s, CONNS, REQ/s, ERR%, P50, P99, SIDECAR%.
    let header = screen.lines().find(|l| l.contains("POD / CONTAINER")).unwrap();
    assert!(header.contains("CONNS  REQ/s   ERR%   P50     P99     SIDECAR%"), "{screen}");
    // api served 10 requests in one interval of 1 s, two of them 503: 10 a
    // second, 20% errors; p50 the 5th of 1..10 ms, p99 the 10th.
    assert_eq!(row_cells(&screen, "shop/api-7d4b9")[8..12], ["10", "20.0%", "5.0ms", "10.0ms"], "{screen}");
    // web-0 served none across its boundary: what its envoy asked, marked →.
    assert_eq!(row_cells(&screen, "shop/web-0")[8..12], ["→10", "20.0%", "5.3ms", "11.0ms"], "{screen}");
    // db-0 has no request: 0, and no share or latency to show.
    assert_eq!(row_cells(&screen, "shop/db-0")[8..12], ["0", "-", "-", "-"], "{screen}");
    assert_snapshot!(screen_text(&app, 120, 16));
}

#[test]
fn request_columns_are_hidden_where_requests_are_not_watched() {
    let app = scripted_app();
    let screen = screen_text(&app, 200, 16);
    assert!(!screen.contains("REQ/s") && !screen.contains("P99"), "{screen}");
    // Sorting never lands on a hidden column.
    let mut app = app;
    for _ in 0..super::table::SortColumn::ALL.len() {
        press(&mut app, "s");
        assert!(!app.node.sort.is_request(), "{:?}", app.node.sort);
    }
    // The sidecar scope says how to see requests.
    press(&mut app, "/web\nc");
    assert!(screen_text(&app, 140, 24).contains("requests are not watched: podtop --events exec,file,net,http"));
    // A recording's requests show the columns although its start record does not say http.
    let mut replayed = requests_app();
    replayed.run.classes = None;
    assert!(screen_text(&replayed, 160, 16).contains("REQ/s"));
}



#[test]
fn request_rates_cover_the_last_ten_seconds() {
    let mut app = requests_app();
    let api = crate::aggregate::model::GroupKey::Pod("bbbb-2222".into());
    let figures = |app: &App| {
        let r = &app.model.groups[&api].requests;
        r.figures().map(|f| (super::format::rate(f.per_second), f.tally.requests))
    };
    assert_eq!(figures(&app), Some(("10".into(), 10)));
    // Quiet intervals: the same ten requests over more seconds, then none.
    for second in 4..=12u64 {
        app.model.apply(Observation::Tick { unix_ns: T0 + second * 1_000_000_000, totals: KernelTotals::default() });
    }
    assert_eq!(figures(&app), Some(("1".into(), 10)), "ten requests over ten seconds");
    app.model.apply(Observation::Tick { unix_ns: T0 + 13_000_000_000, totals: KernelTotals::default() });
    assert_eq!(figures(&app), None, "out of the span");
    let screen = screen_text(&app, 160, 16);
    assert_eq!(row_cells(&screen, "shop/api-7d4b9")[8..12], ["0", "-", "-", "-"], "{screen}");
}

#[test]
fn requests_pane_lists_endpoints() {
    let mut app = requests_app();
    press(&mut app, "/api\n\n\t\t\t\t");
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("▶ requests since start (green: a sidecar sees them)"), "{screen}");
    // GET: 1..8 ms, p50 the 4th, p99 the 8th; POST: 9 and 10 ms, both 503.
    assert!(screen.contains("│in       8     0   4.0ms   8.0ms  GET /api/items"), "{screen}");
    assert!(screen.contains("│in       2     2   9.0ms  10.0ms  POST /api/orders"), "{screen}");
    assert_snapshot!(screen);
    // web-0: its envoy's requests out, the hop from its app in both ends, and the app's own.
    let mut app = requests_app();
    press(&mut app, "/web\n\n\t\t\t\t");
    let screen = screen_text(&app, 120, 40);
    for line in [
        "│out      8     0  12.0ms  12.0ms  GET /api/items  · in pod",
        "│in       8     0  12.0ms  12.0ms  GET /api/items  · in pod",
        "│out      8     0   4.3ms   8.3ms  GET /api/items",
        "│out      2     2  12.0ms  12.0ms  POST /api/orders  · in pod",
        "│in       2     2  12.0ms  12.0ms  POST /api/orders  · in pod",
        "│out      2     2   9.3ms  11.0ms  POST /api/orders",
        "│in       1     0   200µs   200µs  GET /cache/k  · in pod",
    ] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    assert_snapshot!("requests_pane_of_a_pod_with_a_sidecar", screen);
}

#[test]
fn sidecar_scope_shows_the_requests_a_proxy_sees_and_misses() {
    let mut app = requests_app();
    press(&mut app, "/web\nc");
    let screen = screen_text(&app, 160, 40);
    // What the envoy sees in HTTP mode: exactly the requests across the boundary.
    assert!(screen.contains("│out      8     0   4.3ms   8.3ms  GET /api/items"), "{screen}");
    assert!(!screen.contains("/cache/k"), "{screen}");
    let number = |label: &str| {
        let line = screen.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("{label}:\n{screen}"));
        line.split(label).nth(1).unwrap().split_whitespace().next().unwrap().to_string()
    };
    assert_eq!(number("a proxy sees"), "10");
    assert_eq!(number("app to its proxy"), "10");
    assert_eq!(number("it misses (in pod)"), "1");
    assert_snapshot!(screen);
}

/// The screens with requests at the sizes of `every_screen_at_every_size`.
#[test]
fn request_screens_at_every_size() {
    let screens: [(&str, &str); 3] = [("requests_node", ""), ("requests_detail", "/web\n\n\t\t\t\t"), ("requests_sidecar", "/web\nc")];
    for (screen, keys) in screens {
        for (cols, rows) in [(60, 12), (80, 24), (120, 40), (200, 50)] {
            let mut app = requests_app();
            press(&mut app, keys);
            assert_snapshot!(format!("{screen}_{cols}x{rows}"), screen_text(&app, cols, rows));
        }
    }
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

#[test]
fn names_pane_lists_the_names_a_pod_resolved() {
    let mut app = names_app();
    // processes, execs, files, connections, names: no requests pane where http is not watched.
    press(&mut app, "/web\n\n\t\t\t\t");
    assert_eq!(app.panes(), 5);
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("▶ DNS names it resolved since start"), "{screen}");
    for line in [
        "│ COUNT  NXDOM   ERR  NO-ANS     P50  NAME TYPES → ANSWER",
        // Three lookups, each answered with the address: p50 the second of 1, 2, 3 ms.
        "│     3      0     0       0   2.0ms  api.shop.test A → 10.244.0.20",
        // A SERVFAIL and a lookup no answer came for: two lookups, one latency.
        "│     2      0     1       1   4.0ms  flaky.shop.test A → no address",
        "│     1      1     0       0   500µs  missing.shop.test A → no address",
    ] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    assert!(!screen.contains("answered by this pod"), "web-0 answers no lookup:\n{screen}");
    assert_snapshot!(screen);
    // db-0 resolves nothing, but answers two lookups, one of them NXDOMAIN.
    let mut app = names_app();
    press(&mut app, "/db\n\n\t\t\t\t");
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("│     2      1     0       0   150µs  (answered by this pod, all names)"), "{screen}");
    assert!(!screen.contains("nope.shop.test"), "a resolver's names are its clients':\n{screen}");
}

#[test]
fn a_connection_shows_the_name_its_pod_resolved() {
    let mut app = names_app();
    press(&mut app, "/web\n\n\t\t\t");
    let screen = screen_text(&app, 200, 50);
    // The name in place of the address, the address at the end; the connections without a name keep theirs.
    assert!(screen.contains("│→ api.shop.test:8080         0B      0B open   envoy[101] from 10.244.0.10:41002 to 10.244.0.20 "), "{screen}");
    assert!(screen.contains("│→ 10.244.0.20:8080          26B   1019B closed envoy[101] shop/api-7d4b9/api from 10.244.0.10:41000 "), "{screen}");
    // The event pane: the name and, where a line has room, the address.
    let mut app = names_app();
    press(&mut app, "e");
    let screen = screen_text(&app, 160, 40);
    assert!(screen.contains("connect envoy[101] 10.244.0.10:41002 -> api.shop.test:8080 (10.244.0.20)"), "{screen}");
    assert!(screen.contains("dns     python3[100] A api.shop.test NOERROR 10.244.0.20 3.0ms via 10.96.0.10:53"), "{screen}");
    assert!(screen.contains("dns     python3[100] A flaky.shop.test no answer via 10.96.0.10:53"), "{screen}");
    // What a proxy sees: sockets, named where the pod looked the address up.
    let mut app = names_app();
    press(&mut app, "/web\nc");
    let screen = screen_text(&app, 140, 24);
    assert!(screen.contains("│out  10.244.0.10:41002      api.shop.test:8080          0B      0B open"), "{screen}");
    assert!(screen.contains("│out  10.244.0.10:41000      10.244.0.20:8080           26B   1019B closed"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn names_are_shown_only_where_lookups_are_watched_or_recorded() {
    let mut app = scripted_app();
    press(&mut app, "/web\n\n");
    assert_eq!(app.panes(), 4, "no names pane where dns is not watched");
    // A recording's lookups show the pane although its start record does not say dns.
    let mut replayed = names_app();
    replayed.run.classes = None;
    press(&mut replayed, "/web\n\n");
    assert_eq!(replayed.panes(), 5);
    assert!(screen_text(&replayed, 120, 40).contains("DNS names it resolved since start"));
}

/// The screens with names at the sizes of `every_screen_at_every_size`,
/// and the drill-down with requests and names side by side.
#[test]
fn name_screens_at_every_size() {
    let screens: [(&str, &str); 3] = [("names_detail", "/web\n\n\t\t\t\t"), ("names_connections", "/web\n\n\t\t\t"), ("names_sidecar", "/web\nc")];
    for (screen, keys) in screens {
        for (cols, rows) in [(60, 12), (80, 24), (120, 40), (200, 50)] {
            let mut app = names_app();
            press(&mut app, keys);
            assert_snapshot!(format!("{screen}_{cols}x{rows}"), screen_text(&app, cols, rows));
        }
    }
    // Requests and names: both panes, Tab order requests then names.
    let mut app = names_app();
    app.run.classes = Some(EventClasses(EventClasses::ALL.0 | EventClasses::DNS | EventClasses::HTTP));
    press(&mut app, "/web\n\n\t\t\t\t\t");
    assert_eq!(app.panes(), 6);
    let screen = screen_text(&app, 160, 40);
    assert!(screen.contains("requests since start") && screen.contains("▶ DNS names it resolved since start"), "{screen}");
    assert_snapshot!("names_and_requests_detail_160x40", screen);
    let narrow = screen_text(&app, 60, 12);
    assert!(narrow.contains("DNS names since start · 6/6 Tab"), "{narrow}");
}

/// Names that reach the model raw (a recording made elsewhere, forged or
/// older than the enricher's cleaning) still never reach the terminal raw:
/// node view, drill-down, events pane, whatever screen shows the names.
#[test]
fn no_screen_prints_a_character_that_steers_the_terminal() {
    use crate::enrich::printable::is_disguising;
    let hostile = owner(40, Some(("dddd-4444", "web\u{1b}[2J\u{7}\u{9b}31m\u{202e}exe.txt")), Some(("e", "app\u{85}\u{2066}\u{200f}")));
    let mut model = NodeModel::new(1.0);
    model.apply(happened(0, &hostile, 400, 1, "sh\u{1b}]0;x\u{7}", Action::Exec { filename: "/bin/\u{9b}sh".into(), args: vec!["sh\u{202e}".into()] }));
    model.apply(counters(&hostile, &[("execs", 1)]));
    model.apply(Observation::Tick { unix_ns: T0, totals: KernelTotals::default() });
    let run = RunInfo { node: "n".into(), kernel: "6.18".into(), probes_attached: 9, probes_skipped: 0, source: Source::Live { recording: false }, classes: Some(EventClasses::ALL) };
    let mut app = App::new(model, run);
    app.color = false;
    for keys in ["", " ", "e", "\n"] {
        press(&mut app, keys);
        let screen = screen_text(&app, 120, 30);
        let shown: String = screen.chars().filter(|c| *c != '\n').collect();
        assert!(!shown.chars().any(is_disguising), "after {keys:?}:\n{screen}");
        assert!(screen.contains("web[2J"), "the visible rest of the name stays, after {keys:?}:\n{screen}");
    }
}
