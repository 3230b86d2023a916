//! The footer: the current screen's keys, in their long form where all fit,
//! else in their short form, and always the way to the rest; the filter
//! while it is edited; a notice, once.

use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::help;
use super::keys::KeyHint;
use super::node::NodeView;
use crate::ui::theme::Theme;

/// The way to the rest, always shown.
const LAST: &str = "? help  q quit";

/// The hints in one line of `width`: all long where they fit, else all short,
/// and only where even those do not fit, the last ones left out.
pub fn hints_line(keys: &[KeyHint], width: usize) -> String {
    let room = width.saturating_sub(LAST.chars().count() + 2);
    let long: Vec<&str> = keys.iter().map(|k| k.long).collect();
    let all_long = long.iter().map(|k| k.chars().count() + 2).sum::<usize>() <= room;
    let chosen: Vec<&str> = if all_long { long } else { keys.iter().map(|k| k.short).collect() };
    let mut text = String::new();
    for key in chosen {
        if text.chars().count() + key.chars().count() + 2 > room {
            break;
        }
        text.push_str(key);
        text.push_str("  ");
    }
    text.push_str(LAST);
    text
}

/// `keys`: the current screen's.
pub fn draw(frame: &mut Frame, view: &NodeView, help_shown: bool, keys: &[KeyHint], theme: &Theme, area: Rect) {
    if let Some(notice) = &view.notice {
        frame.render_widget(Paragraph::new(notice.as_str()).style(theme.warn()), area);
        return;
    }
    let text = if view.editing_filter {
        format!("filter: {}▏ (Enter keeps, Esc clears)", view.filter)
    } else if help_shown {
        help::KEYS.to_string()
    } else {
        hints_line(keys, area.width as usize)
    };
    frame.render_widget(Paragraph::new(text).style(theme.dim()), area);
}
