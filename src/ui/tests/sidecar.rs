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
