//! The node view: its rows and columns, the cursor through re-sorts, the TCP scope, rates and request columns.

use super::*;

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
            seen.push(crate::ui::format::rate(g.activity.per_second(|c| c.execs)));
        }
    }
    assert!(seen.iter().all(|r| r == "0.3" || r == "0.4"), "{seen:?}");
    assert!(crate::ui::screens::help::HELP_NOTES.iter().any(|n| n.contains(&format!("over the last {} s", crate::aggregate::model::RATE_SPAN_SECONDS))));
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
    for _ in 0..crate::ui::table::SortColumn::ALL.len() {
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
        r.figures().map(|f| (crate::ui::format::rate(f.per_second), f.tally.requests))
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

/// The header row of the node table: the line that names the first column.
fn table_header(screen: &str) -> String {
    screen.lines().find(|l| l.contains("POD / CONTAINER")).unwrap_or_else(|| panic!("no header:\n{screen}")).to_string()
}

/// At 80 columns the node view keeps the column it is sorted by, its marker
/// with it; `s` moves only among the columns on screen; the footer's keys
/// shorten rather than go; and the header still says whose CPU it shows.
#[test]
fn at_80_columns_the_sort_stays_on_screen_and_the_keys_shorten() {
    use crate::ui::screens::header::SelfUsage;
    let mut app = scripted_app();
    app.usage = Some(SelfUsage { cpu_percent: 2.0, rss_bytes: 46 << 20 });
    let screen = screen_text(&app, 80, 24);
    for hidden in ["PROCS", "CONNS", "FILE W/s"] {
        assert!(!table_header(&screen).contains(hidden), "{hidden} is one of the columns 80 columns hide:\n{screen}");
    }

    // `s` from EXEC/s around to it again: every stop on screen and marked.
    let mut stops = Vec::new();
    loop {
        press(&mut app, "s");
        let screen = screen_text(&app, 80, 24);
        let header = table_header(&screen);
        let marked = header.split_whitespace().map(|c| c.trim_matches('│')).find(|c| c.ends_with('▼') || c.ends_with('▲'));
        let marked = marked.unwrap_or_else(|| panic!("no sort marker after {stops:?}:\n{screen}")).to_string();
        if marked == "EXEC/s▼" {
            break;
        }
        assert!(stops.len() < 20, "s never came back to EXEC/s: {stops:?}");
        stops.push(marked);
    }
    // The columns 80 shows, in order (FILE R/s and the TCP ones split at their space); the name sorts A to Z.
    assert_eq!(stops, ["OPEN/s▼", "R/s▼", "TX/s▼", "RX/s▼", "SIDECAR%▼", "CONTAINER▲"], "s stopped on a hidden column or skipped a shown one");

    // A column chosen on a wider terminal stays when it narrows, marked.
    app.node.sort = crate::ui::table::SortColumn::Processes;
    let screen = screen_text(&app, 80, 24);
    assert!(table_header(&screen).contains("PROCS▼"), "{screen}");
    assert_snapshot!("sorted_by_processes_80x24", screen);
    let screen = screen_text(&app, 120, 40);
    assert!(table_header(&screen).contains("PROCS▼"), "{screen}");
    assert_snapshot!("sorted_by_processes_120x40", screen);

    let footer = screen.lines().last().unwrap();
    assert!(footer.contains("t TCP scope") && footer.contains("/ filter") && footer.contains("e events"), "{footer}");
    let screen = screen_text(&app, 80, 24);
    let footer = screen.lines().last().unwrap();
    for key in ["t tcp", "/ filter", "e events", "s sort", "? help", "q quit"] {
        assert!(footer.contains(key), "{key} is left out of the footer at 80 columns: {footer}");
    }
    assert!(screen.lines().nth(1).unwrap().contains("podtop CPU 2.0%"), "{screen}");
}

/// A container's runtime is named beside it where the name column holds it
/// whole, and left out where it does not, never cut to `envoy (container`.
#[test]
fn a_containers_runtime_is_named_whole_or_not_at_all() {
    use crate::aggregate::model::GroupKey;
    let mut app = scripted_app();
    let web = GroupKey::Pod("aaaa-1111".into());
    for container in app.model.groups.get_mut(&web).unwrap().containers.values_mut() {
        container.runtime = Some("containerd");
    }
    app.node.expanded.insert(web);
    let wide = screen_text(&app, 120, 24);
    assert!(wide.contains("└ app (containerd)"), "{wide}");
    let narrow = screen_text(&app, 60, 12);
    let envoy = narrow.lines().find(|l| l.contains("└ envoy")).unwrap_or_else(|| panic!("{narrow}"));
    assert!(!envoy.contains('(') || envoy.contains("(containerd)"), "the runtime is cut: {envoy}");
}

/// Two pods that only sleep, found in the cgroup tree as the run starts:
/// rows from the start, their processes counted, zeros for the rest, as top
/// lists sleeping processes; expanded, their containers too.
#[test]
fn sleeping_pods_are_rows_from_the_start() {
    let mut app = scripted_app();
    let queue = owner(50, Some(("eeee-5555", "queue-0")), Some(("e", "worker")));
    let cron = owner(60, Some(("ffff-6666", "cron-0")), Some(("f", "cron")));
    let sleeping = |pids: &[u32], comm: &str| pids.iter().map(|pid| ProcessRef { pid: *pid, ppid: 1, comm: comm.into() }).collect();
    app.model.apply(Observation::Present { unix_ns: T0, owner: queue, processes: sleeping(&[500, 501, 502, 503], "worker") });
    app.model.apply(Observation::Present { unix_ns: T0, owner: cron, processes: sleeping(&[600, 601, 602, 603], "crond") });
    app.model.apply(Observation::Tick { unix_ns: T0 + 3_000_000_000, totals: KernelTotals { seen: 1500, lost: 0, dropped: 0, bpf_run_time_ns: Some(6_000_000) } });
    let screen = screen_text(&app, 120, 40);
    assert_eq!(row_cells(&screen, "shop/queue-0")[..3], ["4", "0", "0"], "4 processes, no exec, no open:\n{screen}");
    assert_eq!(row_cells(&screen, "shop/cron-0")[..3], ["4", "0", "0"], "{screen}");
    assert_snapshot!("sleeping_pods_80x24", screen_text(&app, 80, 24));
    // Both expanded (the last row, then two up past db-0): their containers, idle too.
    press(&mut app, "G kk ");
    assert_snapshot!("sleeping_pods_expanded_120x40", screen_text(&app, 120, 40));
}
