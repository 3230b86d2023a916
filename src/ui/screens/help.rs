//! The help: every key and what the columns mean, in place of the screen;
//! it scrolls where it does not fit, and any other key closes it.

use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::ui::panes::{movement, Scroll};
use crate::ui::theme::Theme;

/// The footer's keys while the help shows.
pub const KEYS: &str = "↑↓ scroll  any other key closes the help  q quit";

/// Whether the help shows, and how far it is scrolled.
#[derive(Debug, Default)]
pub struct Help {
    pub shown: bool,
    scroll: Scroll,
}

impl Help {
    /// `?` or F1: from its top.
    pub fn open(&mut self) {
        self.shown = true;
        self.scroll = Scroll::default();
    }

    /// A key while it shows: the scroll keys read on where it does not fit;
    /// any other key closes it. Some(whether that key quits) once it closed.
    pub fn on_key(&mut self, code: KeyCode) -> Option<bool> {
        match movement(code) {
            Some(lines) => {
                self.scroll.by(lines);
                None
            }
            None => {
                self.shown = false;
                Some(code == KeyCode::Char('q'))
            }
        }
    }
}

pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn g G", "page, first, last"),
    ("Enter", "details: processes, execs, files, connections"),
    ("c", "sidecar scope: what a proxy in this pod sees and misses"),
    ("Space → l / ← h", "expand / collapse a pod into its containers"),
    ("s / r", "sort by the next column / reverse the order"),
    ("t", "TCP columns: across pod boundaries / over loopback"),
    ("Tab", "details and sidecar scope: next pane (↑↓ scroll it)"),
    ("/", "filter pods, containers and events by name"),
    ("e", "show / hide the live event pane"),
    ("Esc", "back to the node view; clear the filter"),
    ("? F1", "this help"),
    ("q Ctrl-C", "quit"),
];

/// Below the keys; every line fits the help box's width unwrapped.
pub const HELP_NOTES: &[&str] = &[
    "SIDECAR%: the share of a row's events (execs, opens, file reads and",
    "writes, connections, UDP datagrams) that a sidecar proxy could see:",
    "TCP connections across the pod's boundary (a pod's: all containers').",
    "Bytes in B, KiB, MiB; rates per second over the last 10 s; - none yet.",
    "REQ/s, 5xx ERR%, P50, P99 (--events http): requests served, or made (→)",
];

pub fn draw(frame: &mut Frame, help: &Help, theme: &Theme, area: Rect) {
    let width = area.width.min(76);
    let inner = width.saturating_sub(2) as usize;
    const KEYS_WIDTH: usize = 17;
    let longest = HELP.iter().map(|(_, what)| what.chars().count()).max().unwrap_or(0);
    let mut lines: Vec<Line> = Vec::new();
    for (keys, what) in HELP {
        if KEYS_WIDTH + longest <= inner {
            lines.push(Line::from(vec![Span::styled(format!("{keys:<KEYS_WIDTH$}"), theme.accent()), Span::raw(*what)]));
        } else {
            // Narrow: the keys on a line of their own, what they do under them.
            lines.push(Line::styled(*keys, theme.accent()));
            lines.push(Line::raw(format!("  {what}")));
        }
    }
    lines.push(Line::raw(""));
    lines.extend(HELP_NOTES.iter().map(|note| Line::raw(*note)));
    // Rows the lines take once wrapped to the box's width.
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner.max(1)).max(1)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y, width, height };
    let first = help.scroll.first_line(rows, height.saturating_sub(2) as usize);
    let title = if rows + 2 > height as usize { " keys · ↑↓ for more " } else { " keys " };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((first as u16, 0)).block(Block::bordered().title(title)),
        popup,
    );
}
