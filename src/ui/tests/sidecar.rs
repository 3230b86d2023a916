//! The sidecar scope: what a proxy in the pod sees of it, and what it misses.

use super::*;

#[test]
fn sidecar_scope() {
    let mut app = scripted_app();
    press(&mut app, "/web\n");
    press(&mut app, "c");
    assert!(matches!(app.screen, Screen::Sidecar(_)));
    assert_snapshot!(screen_text(&app, 140, 24));
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

/// The host is no pod: its scope says so on both panes, with no table
/// header over nothing.
#[test]
fn the_hosts_scope_says_there_is_no_sidecar_and_no_empty_header() {
    for (cols, rows) in [(80, 24), (120, 40)] {
        let mut app = scripted_app();
        press(&mut app, "gc"); // the host, first by EXEC/s
        assert!(matches!(&app.screen, Screen::Sidecar(crate::aggregate::model::GroupKey::Host)));
        let mut screen = screen_text(&app, cols, rows);
        if cols < 90 {
            // One pane at a time: the second behind Tab.
            press(&mut app, "\t");
            screen.push_str(&screen_text(&app, cols, rows));
        }
        assert!(screen.contains("not a pod: no sidecar here") && !screen.contains("DIR"), "{screen}");
        assert!(screen.contains("not a pod: no sidecar to bill, nothing it misses"), "{screen}");
        assert!(!screen.contains("EVENTS"), "{screen}");
        assert_snapshot!(format!("host_scope_{cols}x{rows}"), screen);
    }
}

/// A proxy that opens a connection per request: the closed ones are one
/// line per direction and pair of ends (count, bytes, last close), the
/// client's own port left out; the open ones each on its line, first.
#[test]
fn closed_flows_are_counted_by_direction_and_ends_open_ones_apart() {
    let mut app = scripted_app();
    let web = owner(10, Some(("aaaa-1111", "web-0")), Some(("a", "app")));
    let proxy = owner(11, Some(("aaaa-1111", "web-0")), Some(("b", "envoy")));
    let api = owner(20, Some(("bbbb-2222", "api-7d4b9")), Some(("c", "api")));
    let at = |i: u64| 3 + i / 10;
    for i in 0..75u64 {
        let (local, cookie) = (format!("10.244.0.10:{}", 42000 + i), 100 + i);
        app.model.apply(happened(at(i), &proxy, 101, 1, "envoy", connection(ConnKind::Connect, &local, "10.244.0.20:8080", 0, 0, cookie, Some(api.clone()), true)));
        app.model.apply(happened(at(i), &proxy, 101, 1, "envoy", connection(ConnKind::Close, &local, "10.244.0.20:8080", 26, 1019, cookie, Some(api.clone()), true)));
    }
    // Served: two clients of the app's port 8000, each from ports of its own.
    for (i, client) in ["10.244.0.30", "10.244.0.40", "10.244.0.30"].iter().enumerate() {
        let (remote, cookie) = (format!("{client}:{}", 50000 + i), 300 + i as u64);
        app.model.apply(happened(9, &web, 100, 1, "python3", connection(ConnKind::Accept, "10.244.0.10:8000", &remote, 0, 0, cookie, None, true)));
        app.model.apply(happened(10, &web, 100, 1, "python3", connection(ConnKind::Close, "10.244.0.10:8000", &remote, 100, 2000, cookie, None, true)));
    }
    app.model.apply(happened(11, &proxy, 101, 1, "envoy", connection(ConnKind::Connect, "10.244.0.10:43000", "10.244.0.20:8080", 0, 0, 400, Some(api.clone()), true)));
    press(&mut app, "/web\nc");
    let screen = screen_text(&app, 120, 40);
    let flows: Vec<&str> = screen.lines().filter(|l| l.starts_with("│out ") || l.starts_with("│in ")).collect();
    // The open one, then the closed ones: from each client of port 8000, and to api's 8080.
    assert_eq!(flows.len(), 4, "{screen}");
    assert!(flows[0].contains("10.244.0.20:8080") && flows[0].contains(" open "), "{screen}");
    let closed_to_api = flows.iter().find(|l| l.contains("76 closed, last")).unwrap_or_else(|| panic!("75 here, 1 from the script:\n{screen}"));
    assert!(closed_to_api.contains("1.9KiB") && closed_to_api.contains("76KiB"), "26 B and 1019 B, 76 times: {closed_to_api}");
    assert!(flows.iter().any(|l| l.contains("│in   10.244.0.30:* ") && l.contains("2 closed, last")), "{screen}");
    assert!(flows.iter().any(|l| l.contains("│in   10.244.0.40:* ") && l.contains("closed ") && !l.contains("2 closed")), "{screen}");
    // Wide enough for the pod's own end: the client's port `*`, the server's named.
    let wide = screen_text(&app, 200, 40);
    assert!(wide.contains("│out  10.244.0.10:*         10.244.0.20:8080 "), "{wide}");
    assert!(wide.contains("│in   10.244.0.10:8000      10.244.0.30:* "), "{wide}");
    assert_snapshot!("closed_flows_120x40", screen);
    assert_snapshot!("closed_flows_80x24", screen_text(&app, 80, 24));
}

/// At 160 columns (the tmux of tests/tui.rs) the pod's own end stays beside
/// the longest state a pod's kept connections make, its time whole.
#[test]
fn at_160_columns_the_local_end_stays_beside_the_longest_state() {
    let mut app = scripted_app();
    let proxy = owner(11, Some(("aaaa-1111", "web-0")), Some(("b", "envoy")));
    for i in 0..250u64 {
        let (local, cookie) = (format!("10.244.0.10:{}", 42000 + i), 100 + i);
        app.model.apply(happened(3, &proxy, 101, 1, "envoy", connection(ConnKind::Connect, &local, "10.244.0.20:8080", 0, 0, cookie, None, true)));
        app.model.apply(happened(3, &proxy, 101, 1, "envoy", connection(ConnKind::Close, &local, "10.244.0.20:8080", 26, 1019, cookie, None, true)));
    }
    press(&mut app, "/web\nc");
    let screen = screen_text(&app, 160, 45);
    let line = screen.lines().find(|l| l.contains(" closed, last ")).unwrap_or_else(|| panic!("{screen}"));
    assert!(line.starts_with("│out  10.244.0.10:*") && line.contains("199 closed, last 03:45:35"), "{line}");
}
