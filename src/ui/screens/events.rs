//! The event pane (`e`): the latest records, newest last, under whatever
//! screen shows; the node view's filter filters it too.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::Context;
use crate::ui::format::{event_text, time_of_day, truncate};
use crate::ui::theme::Theme;

pub fn draw(frame: &mut Frame, ctx: &Context, filter: &str, theme: &Theme, area: Rect) {
    let needle = filter.to_lowercase();
    let visible = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = ctx
        .model
        .events
        .iter()
        .rev()
        .filter(|e| needle.is_empty() || e.group.to_lowercase().contains(&needle) || event_text(e).to_lowercase().contains(&needle))
        .take(visible)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{} {:<16} ", time_of_day(e.unix_ns), truncate(&e.group, 16)), theme.dim()),
                Span::raw(event_text(e)),
            ])
        })
        .collect();
    lines.reverse();
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" events ")), area);
}
