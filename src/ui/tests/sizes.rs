//! Every screen at the sizes people run terminals at and at the smallest podtop draws, and none that prints a character that steers the terminal.

use super::*;

#[test]
fn tiny_terminal() {
    assert_snapshot!(screen_text(&scripted_app(), 40, 8));
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
