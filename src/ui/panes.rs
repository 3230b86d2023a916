//! Screens of several panes (the detail screen, the sidecar scope): each
//! pane scrolls on its own, Tab moves the scroll keys from one to the next,
//! and a terminal too narrow for all of them shows the focused one alone.

use std::cell::Cell;

use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;

/// Panes a screen has at most (the detail screen's).
pub const MAX_PANES: usize = 6;

/// A list that holds more than its pane shows: the first line shown, and how
/// far it can go as last drawn (only drawing knows the list's length and the
/// pane's height; the keys stop there).
#[derive(Debug, Default)]
pub struct Scroll {
    offset: usize,
    limit: Cell<usize>,
}

impl Scroll {
    pub fn by(&mut self, lines: isize) {
        self.offset = (self.offset as isize).saturating_add(lines).clamp(0, self.limit.get() as isize) as usize;
    }

    /// For drawing: the first of `len` lines to show in `height` rows.
    pub fn first_line(&self, len: usize, height: usize) -> usize {
        let limit = len.saturating_sub(height);
        self.limit.set(limit);
        self.offset.min(limit)
    }
}

/// Which pane the scroll keys move, and each pane's scroll.
#[derive(Debug, Default)]
pub struct Panes {
    pub focus: usize,
    pub scrolls: [Scroll; MAX_PANES],
}

impl Panes {
    /// Tab: the next of `count` panes, round to the first.
    pub fn next(&mut self, count: usize) {
        self.focus = (self.focus + 1) % count;
    }

    /// Shift-Tab: the one before.
    pub fn previous(&mut self, count: usize) {
        self.focus = (self.focus + count - 1) % count;
    }

    /// The scroll keys: the focused pane moves.
    pub fn scroll(&mut self, lines: isize) {
        self.scrolls[self.focus].by(lines);
    }

    /// Where each of `count` panes goes: all of them where they `fit`, else
    /// only the focused one, the others a Tab away (a narrow terminal drops
    /// panes, not numbers).
    pub fn areas(&self, count: usize, area: Rect, all: impl FnOnce(Rect) -> Vec<Rect>, fit: bool) -> Vec<Option<Rect>> {
        if fit {
            all(area).into_iter().map(Some).collect()
        } else {
            (0..count).map(|i| (i == self.focus).then_some(area)).collect()
        }
    }
}

/// A pane of lines that scrolls: its title says which lines show where not
/// all fit, and marks the pane the scroll keys move.
pub fn scrolled_pane<'a>(title: &str, lines: Vec<Line<'a>>, empty: &'a str, scroll: &Scroll, focused: bool, theme: &Theme, area: Rect) -> Paragraph<'a> {
    let height = area.height.saturating_sub(2) as usize;
    let len = lines.len();
    let first = scroll.first_line(len, height);
    let title = if focused { format!(" ▶ {title} ") } else { format!(" {title} ") };
    let lines = if lines.is_empty() { vec![Line::styled(empty, theme.dim())] } else { lines.into_iter().skip(first).collect() };
    let mut block = Block::bordered().title(title);
    if len > height {
        // On the bottom border, where a long title cannot push it out.
        block = block.title_bottom(Line::from(format!(" {}–{} of {} ", first + 1, (first + height).min(len), len)).right_aligned());
    }
    let block = if focused { block.border_style(theme.accent()) } else { block };
    Paragraph::new(lines).block(block)
}

/// Lines a scroll or cursor key moves by, for the keys that move.
pub fn movement(code: KeyCode) -> Option<isize> {
    match code {
        KeyCode::Up | KeyCode::Char('k') => Some(-1),
        KeyCode::Down | KeyCode::Char('j') => Some(1),
        KeyCode::PageUp => Some(-10),
        KeyCode::PageDown => Some(10),
        KeyCode::Home | KeyCode::Char('g') => Some(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => Some(isize::MAX / 2),
        _ => None,
    }
}
