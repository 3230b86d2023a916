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
