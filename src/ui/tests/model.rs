//! The model behind every screen: what leaves it, and the same screens from live records and from their recording.

use super::*;

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
fn a_sleeping_pod_stays_while_its_processes_live_and_leaves_after() {
    let mut model = NodeModel::new(1.0);
    let queue = owner(50, Some(("eeee-5555", "queue-0")), Some(("e", "worker")));
    let key = crate::aggregate::model::GroupKey::Pod("eeee-5555".into());
    let processes = vec![ProcessRef { pid: 500, ppid: 1, comm: "worker".into() }];
    model.apply(Observation::Present { unix_ns: T0, owner: queue.clone(), processes });
    let tick = |model: &mut NodeModel, second: u64| model.apply(Observation::Tick { unix_ns: T0 + second * 1_000_000_000, totals: KernelTotals::default() });
    for second in 1..=70 {
        tick(&mut model, second);
    }
    assert!(model.groups.contains_key(&key), "seventy quiet intervals: its process still runs");
    // Its exit arrives like any other: the process found at start is the one that exits.
    model.apply(happened(71, &queue, 500, 1, "worker", Action::Exit { code: Some(0), signal: None }));
    assert!(model.groups[&key].processes.is_empty());
    for second in 71..=140 {
        tick(&mut model, second);
    }
    assert!(!model.groups.contains_key(&key), "gone sixty quiet intervals after its last process");
}

#[test]
fn a_connection_keeps_when_its_last_record_came() {
    let mut model = NodeModel::new(1.0);
    let web = owner(10, Some(("aaaa-1111", "web-0")), Some(("a", "app")));
    model.apply(happened(1, &web, 100, 1, "python3", connection(ConnKind::Connect, "10.244.0.10:40000", "10.244.0.20:8080", 0, 0, 7, None, true)));
    model.apply(happened(4, &web, 100, 1, "python3", connection(ConnKind::Close, "10.244.0.10:40000", "10.244.0.20:8080", 26, 1019, 7, None, true)));
    let group = &model.groups[&crate::aggregate::model::GroupKey::Pod("aaaa-1111".into())];
    let row = &group.connections[0];
    assert_eq!((row.open, row.last_ns), (false, T0 + 4_000_000_000), "its close's time");
}
