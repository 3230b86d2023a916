//! The footer: the current screen's keys, as many as fit and always the
//! way to the rest; the filter while it is edited; a notice, once.

use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::help;
use super::node::NodeView;
use crate::ui::theme::Theme;

/// `keys`: the current screen's.
pub fn draw(frame: &mut Frame, view: &NodeView, help_shown: bool, keys: &[&str], theme: &Theme, area: Rect) {
    if let Some(notice) = &view.notice {
        frame.render_widget(Paragraph::new(notice.as_str()).style(theme.warn()), area);
        return;
    }
    let text = if view.editing_filter {
        format!("filter: {}▏ (Enter keeps, Esc clears)", view.filter)
    } else if help_shown {
        help::KEYS.to_string()
    } else {
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
