//! Drawing the app: the header, the current screen (or the help in its
//! place), the event pane and the footer, each drawn by its own module.

use ratatui::layout::{Constraint, Layout};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Screen};
use super::screens::{detail, events, footer, header, help, node, sidecar, Context};
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
    let ctx = Context { model: &app.model, run: &app.run, requests_shown: app.shows_requests(), lookups_shown: app.shows_lookups() };
    header::draw(frame, &ctx, app.usage, app.ended, &theme, header_area);
    let keys = match app.screen {
        Screen::Node => node::KEYS,
        Screen::Detail(_) => detail::KEYS,
        Screen::Sidecar(_) => sidecar::KEYS,
    };
    if app.help.shown {
        // In place of the screen, not over it: no box runs into another.
        help::draw(frame, &app.help, &theme, body.union(events_area));
        footer::draw(frame, &app.node, true, keys, &theme, footer_area);
        return;
    }
    match &app.screen {
        Screen::Node => node::draw(frame, &ctx, &app.node, &theme, body),
        Screen::Detail(key) => match app.model.groups.get(key) {
            Some(group) => detail::draw(frame, &ctx, &app.panes, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
        Screen::Sidecar(key) => match app.model.groups.get(key) {
            Some(group) => sidecar::draw(frame, &ctx, &app.panes, group, &theme, body),
            None => frame.render_widget(Paragraph::new("this group is gone"), body),
        },
    }
    if app.show_events {
        events::draw(frame, &ctx, &app.node.filter, &theme, events_area);
    }
    footer::draw(frame, &app.node, false, keys, &theme, footer_area);
}

