//! The help: every key, whole at 80x24, and any key closes it.

use super::*;

#[test]
fn help() {
    let mut app = scripted_app();
    press(&mut app, "?");
    assert_snapshot!(screen_text(&app, 100, 24));
    let at_80x24 = screen_text(&app, 80, 24);
    for (keys, what) in crate::ui::screens::help::HELP {
        assert!(at_80x24.contains(what), "{keys}: {what:?} whole at 80x24:\n{at_80x24}");
    }
    assert!(at_80x24.contains("TCP connections across the pod's boundary (a pod's: all containers')."), "{at_80x24}");
    press(&mut app, "x");
    assert!(!app.help.shown && !app.quit, "any key closes the help");
}
