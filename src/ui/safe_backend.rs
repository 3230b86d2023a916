//! The last gate between what processes named themselves and the terminal.
//!
//! Command lines, paths, process and container names come from whoever ran
//! them. ratatui keeps zero-width characters in the cell before them, so a
//! C1 control (U+009B is a terminal's CSI, as ESC [ is) or a bidirectional
//! override (U+202E) would reach the terminal as is: recolour the screen,
//! move the cursor, or make a name read backwards. Every cell is cleaned
//! here, whatever widget drew it.

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

/// One set of disguising characters for every sink: the TUI drops them from
/// cells, the label and name paths replace them (crate::enrich::printable).
pub use crate::enrich::printable::is_disguising;

pub struct SafeBackend<B: Backend> {
    inner: B,
}

impl<B: Backend> SafeBackend<B> {
    pub fn new(inner: B) -> Self {
        SafeBackend { inner }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> Backend for SafeBackend<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<(u16, u16, Cell)> = content
            .map(|(x, y, cell)| {
                let mut cell = cell.clone();
                if cell.symbol().chars().any(is_disguising) {
                    // Zero-width characters ride along with the visible one before them: drop them.
                    let kept: String = cell.symbol().chars().filter(|c| !is_disguising(*c)).collect();
                    cell.set_symbol(if kept.is_empty() { " " } else { &kept });
                }
                (x, y, cell)
            })
            .collect();
        self.inner.draw(cells.iter().map(|(x, y, cell)| (*x, *y, cell)))
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::widgets::Paragraph;
    use ratatui::Terminal;

    #[test]
    fn nothing_that_steers_the_terminal_reaches_it() {
        let mut terminal = Terminal::new(SafeBackend::new(TestBackend::new(40, 1))).unwrap();
        let hostile = "a\u{9b}31mb\u{202e}exe.txt\u{2066}c\u{1b}[2J\u{7f}d";
        terminal.draw(|f| f.render_widget(Paragraph::new(hostile), f.area())).unwrap();
        let shown: String = terminal.backend().inner().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(!shown.chars().any(is_disguising), "{shown:?}");
        assert!(shown.starts_with("a31mbexe.txtc[2Jd"), "the visible text stays, the controls go: {shown:?}");
        assert!(shown.contains("exe.txt"));
    }
}
