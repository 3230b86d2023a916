//! Drawing the app: the header, the current screen (or the help in its
//! place), the event pane and the footer, each drawn by its own module.

use ratatui::layout::{Constraint, Layout};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Screen};
use super::screens::{detail, events, footer, header, help, node, sidecar};
use super::theme::Theme;

/// Below this the screens do not fit; a message says so instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn render(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!("terminal too small: {}x{}, podtop needs {MIN_WIDTH}x{MIN_HEIGHT}\n(q quits)", area.width, area.height);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let event_rows = if app.show_events { (area.height / 3).max(5) } else { 0 };
    let [header_area, body, events_area, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(event_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, app, &theme, header_area);
    if app.help.shown {
        // In place of the screen, not over it: no box runs into another.
        help::draw(frame, &app.help, &theme, body.union(events_area));
        footer::draw(frame, app, &theme, footer_area);
        return;
    }
    match &app.screen {
        Screen::Node => node::draw(frame, app, &theme, body),
        Screen::Detail(key) => match app.model.groups.get(key) {
            Some(group) => detail::draw(frame, app, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
        Screen::Sidecar(key) => match app.model.groups.get(key) {
            Some(group) => sidecar::draw(frame, app, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
    }
    if app.show_events {
        events::draw(frame, app, &theme, events_area);
    }
    footer::draw(frame, app, &theme, footer_area);
}

