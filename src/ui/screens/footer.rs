//! The footer: the current screen's keys, as many as fit and always the
//! way to the rest; the filter while it is edited; a notice, once.

use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{detail, help, node, sidecar};
use crate::ui::app::{App, Screen};
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    if let Some(notice) = &app.node.notice {
        frame.render_widget(Paragraph::new(notice.as_str()).style(theme.warn()), area);
        return;
    }
    let text = if app.node.editing_filter {
        format!("filter: {}▏ (Enter keeps, Esc clears)", app.node.filter)
    } else if app.help.shown {
        help::KEYS.to_string()
    } else {
        let keys = match app.screen {
            Screen::Node => node::KEYS,
            Screen::Detail(_) => detail::KEYS,
            Screen::Sidecar(_) => sidecar::KEYS,
        };
        // As many as fit, and always the way to the rest.
        let last = "? help  q quit";
        let room = (area.width as usize).saturating_sub(last.chars().count() + 2);
        let mut text = String::new();
        for key in keys {
            if text.chars().count() + key.chars().count() + 2 > room {
                break;
            }
            text.push_str(key);
            text.push_str("  ");
        }
        text.push_str(last);
        text
    };
    frame.render_widget(Paragraph::new(text).style(theme.dim()), area);
}
