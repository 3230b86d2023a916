//! The detail screen: its panes, their scrolls and Tab, requests by endpoint, the names a pod resolved.

use super::*;

#[test]
fn drill_down() {
    let mut app = scripted_app();
    press(&mut app, "j\n"); // second row: api-7d4b9 (sorted by EXEC/s)
    assert!(matches!(app.screen, Screen::Detail(_)));
    assert_snapshot!(screen_text(&app, 120, 24));
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
fn requests_pane_lists_endpoints() {
    let mut app = requests_app();
    press(&mut app, "/api\n\n\t\t\t\t");
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("▶ requests since start (green: a sidecar sees them; yellow: in pod)"), "{screen}");
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
    assert!(screen.contains("│out  api.shop.test:8080         0B      0B open"), "{screen}");
    assert!(screen.contains("│out  10.244.0.20:8080          26B   1019B closed "), "{screen}");
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

/// Green and yellow lines: the titles say what both colours mean, the
/// long form where the pane has room, a short one where it has not.
#[test]
fn the_titles_say_what_green_and_yellow_mean() {
    for (cols, rows) in [(80, 24), (120, 40)] {
        let mut app = requests_app();
        press(&mut app, "/web\n\n");
        let screen = screen_text(&app, cols, rows);
        let requests = screen.lines().find(|l| l.contains("requests")).unwrap_or_else(|| panic!("{screen}"));
        assert!(requests.contains("green: a sidecar sees them; yellow: in pod"), "{cols}x{rows}: {requests}");
        let connections = screen.lines().find(|l| l.contains("conns (") || l.contains("connections:")).unwrap_or_else(|| panic!("{screen}"));
        assert!(connections.contains("green: a sidecar sees") && connections.contains("yellow: not)"), "{cols}x{rows}: {connections}");
        assert_snapshot!(format!("colours_explained_{cols}x{rows}"), screen);
    }
}
