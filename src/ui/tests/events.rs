//! The event pane, and the filter that filters it.

use super::*;

#[test]
fn events_pane_and_filter() {
    let mut app = scripted_app();
    press(&mut app, "e/api\n");
    assert_snapshot!(screen_text(&app, 120, 24));
}
