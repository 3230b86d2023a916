//! Keys from the terminal, read so that a terminal that goes away ends the
//! TUI instead of holding it.
//!
//! crossterm's event reader loops forever when its tty reads end-of-file (a
//! closed tmux session, a dropped SSH connection): it never returns, so no
//! stop flag or deadline is seen. podtop reads the tty itself: one `poll(2)`
//! with a timeout, one `read(2)`, and end-of-file, a hang-up or an error end
//! the input. The bytes are decoded here into crossterm's key types, which
//! the rest of the TUI speaks.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// How long a lone ESC waits for the rest of an escape sequence.
const ESCAPE_WAIT: Duration = Duration::from_millis(25);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Key(KeyEvent),
    /// Nothing within the timeout (or a signal interrupted the wait).
    Idle,
    /// The terminal is gone: end of file, hang-up, or an error reading it.
    Closed,
}

/// The terminal's input side: stdin when it is the terminal, else /dev/tty.
pub struct TerminalInput {
    tty: Option<File>,
    pending: Vec<u8>,
    keys: VecDeque<KeyEvent>,
}

fn wait_readable(fd: BorrowedFd, timeout: Duration) -> io::Result<PollFlags> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) => Ok(PollFlags::empty()),
        Ok(_) => Ok(fds[0].revents()),
        Err(rustix::io::Errno::INTR) => Ok(PollFlags::empty()),
        Err(e) => Err(e.into()),
    }
}

impl TerminalInput {
    pub fn open() -> TerminalInput {
        let tty = if io::stdin().is_terminal() {
            // A second handle on fd 0, closed with this one (the process keeps fd 0).
            io::stdin().as_fd().try_clone_to_owned().ok().map(File::from)
        } else {
            File::open("/dev/tty").ok()
        };
        TerminalInput { tty, pending: Vec::new(), keys: VecDeque::new() }
    }

    /// The next key, waiting at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Input {
        if let Some(key) = self.keys.pop_front() {
            return Input::Key(key);
        }
        let Some(tty) = self.tty.as_mut() else {
            // No terminal to read keys from: signals still end the TUI.
            std::thread::sleep(timeout);
            return Input::Idle;
        };
        match wait_readable(tty.as_fd(), timeout) {
            Err(_) => return Input::Closed,
            Ok(flags) if flags.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) => return Input::Closed,
            Ok(flags) if !flags.contains(PollFlags::IN) => return Input::Idle,
            Ok(_) => {}
        }
        let mut buf = [0u8; 1024];
        match tty.read(&mut buf) {
            Ok(0) => return Input::Closed,
            Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::WouldBlock => return Input::Idle,
            Err(_) => return Input::Closed,
        }
        // An ESC at the end may start a sequence whose rest is on its way:
        // wait a moment for it, then take what is there as it is.
        if decode(&self.pending, false).1 < self.pending.len()
            && wait_readable(tty.as_fd(), ESCAPE_WAIT).is_ok_and(|f| f.contains(PollFlags::IN))
        {
            if let Ok(n) = tty.read(&mut buf) {
                self.pending.extend_from_slice(&buf[..n]);
            }
        }
        let (keys, used) = decode(&self.pending, true);
        self.pending.drain(..used);
        self.keys.extend(keys);
        self.keys.pop_front().map_or(Input::Idle, Input::Key)
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Decodes keys from terminal bytes; returns them and how many bytes they
/// took. An incomplete sequence at the end is left for the next read, unless
/// `complete` says no more is coming with it: then its ESC is Esc.
pub fn decode(bytes: &[u8], complete: bool) -> (Vec<KeyEvent>, usize) {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (event, used) = match rest[0] {
            0x1b => match escape(rest) {
                Some(decoded) => decoded,
                None if complete => (Some(key(KeyCode::Esc)), 1),
                None => break, // the rest of the sequence is still on its way
            },
            b'\r' | b'\n' => (Some(key(KeyCode::Enter)), 1),
            b'\t' => (Some(key(KeyCode::Tab)), 1),
            0x7f | 0x08 => (Some(key(KeyCode::Backspace)), 1),
            c @ 0x01..=0x1a => {
                let letter = char::from(b'a' + c - 1);
                (Some(KeyEvent::new(KeyCode::Char(letter), KeyModifiers::CONTROL)), 1)
            }
            0x00..=0x1f => (None, 1),
            _ => match utf8_char(rest) {
                Some((c, len)) => (Some(key(KeyCode::Char(c))), len),
                None if rest.len() < 4 && !complete && rest[0] >= 0xc0 => break,
                None => (None, 1), // not UTF-8: skip the byte
            },
        };
        keys.extend(event);
        i += used;
    }
    (keys, i)
}

fn utf8_char(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(bytes.get(..len)?).ok()?.chars().next()?;
    Some((c, len))
}

/// An escape sequence at the start of `bytes` (which begins with ESC): the
/// key (None for sequences podtop has no use for) and its length; None when
/// the sequence is not complete yet.
fn escape(bytes: &[u8]) -> Option<(Option<KeyEvent>, usize)> {
    match bytes.get(1)? {
        b'[' => {
            // CSI: parameters and intermediates, then one final byte 0x40..=0x7e.
            let end = bytes[2..].iter().position(|b| (0x40..=0x7e).contains(b))? + 2;
            let params = &bytes[2..end];
            let code = match (params, bytes[end]) {
                (_, b'A') => Some(KeyCode::Up),
                (_, b'B') => Some(KeyCode::Down),
                (_, b'C') => Some(KeyCode::Right),
                (_, b'D') => Some(KeyCode::Left),
                (_, b'H') => Some(KeyCode::Home),
                (_, b'F') => Some(KeyCode::End),
                (_, b'Z') => Some(KeyCode::BackTab),
                (b"1" | b"7", b'~') => Some(KeyCode::Home),
                (b"4" | b"8", b'~') => Some(KeyCode::End),
                (b"3", b'~') => Some(KeyCode::Delete),
                (b"5", b'~') => Some(KeyCode::PageUp),
                (b"6", b'~') => Some(KeyCode::PageDown),
                (b"11", b'~') => Some(KeyCode::F(1)),
                _ => None,
            };
            Some((code.map(key), end + 1))
        }
        b'O' => {
            let code = match bytes.get(2)? {
                b'A' => Some(KeyCode::Up),
                b'B' => Some(KeyCode::Down),
                b'C' => Some(KeyCode::Right),
                b'D' => Some(KeyCode::Left),
                b'H' => Some(KeyCode::Home),
                b'F' => Some(KeyCode::End),
                b'P' => Some(KeyCode::F(1)),
                _ => None,
            };
            Some((code.map(key), 3))
        }
        // ESC ESC, or Alt+key: the first ESC is Esc.
        _ => Some((Some(key(KeyCode::Esc)), 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(bytes: &[u8]) -> Vec<KeyCode> {
        decode(bytes, true).0.into_iter().map(|k| k.code).collect()
    }

    #[test]
    fn keys_podtop_uses() {
        assert_eq!(codes(b"q"), vec![KeyCode::Char('q')]);
        assert_eq!(codes(b"\x1b[A\x1b[B\x1bOC\x1b[D"), vec![KeyCode::Up, KeyCode::Down, KeyCode::Right, KeyCode::Left]);
        assert_eq!(codes(b"\x1b[5~\x1b[6~\x1b[H\x1b[4~"), vec![KeyCode::PageUp, KeyCode::PageDown, KeyCode::Home, KeyCode::End]);
        assert_eq!(codes(b"\x1bOP\x1b[11~"), vec![KeyCode::F(1), KeyCode::F(1)]);
        assert_eq!(codes(b"\r\t\x7f"), vec![KeyCode::Enter, KeyCode::Tab, KeyCode::Backspace]);
        assert_eq!(codes("é/".as_bytes()), vec![KeyCode::Char('é'), KeyCode::Char('/')]);
        let ctrl_c = decode(b"\x03", true).0[0];
        assert_eq!((ctrl_c.code, ctrl_c.modifiers), (KeyCode::Char('c'), KeyModifiers::CONTROL));
    }

    #[test]
    fn a_lone_escape_is_esc_only_when_nothing_follows() {
        assert_eq!(codes(b"\x1b"), vec![KeyCode::Esc]);
        assert_eq!(decode(b"\x1b", false), (vec![], 0), "wait for the rest");
        assert_eq!(decode(b"j\x1b[", false).1, 1, "an unfinished CSI stays pending");
        assert_eq!(codes(b"\x1b\x1b[A"), vec![KeyCode::Esc, KeyCode::Up]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Told the bytes are complete, decoding takes them all; otherwise it
        /// leaves at most one unfinished sequence.
        #[test]
        fn decoding_takes_every_byte(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            proptest::prop_assert_eq!(decode(&bytes, true).1, bytes.len());
            let (_, used) = decode(&bytes, false);
            proptest::prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn unknown_sequences_and_garbage_are_skipped_never_stuck() {
        assert_eq!(codes(b"\x1b[200~x\x1b[?1;2c"), vec![KeyCode::Char('x')]);
        assert_eq!(codes(b"\xff\xfe\x00k"), vec![KeyCode::Char('k')]);
        // Whatever the bytes, decoding consumes them when told they are complete.
        let mut seed = 7u32;
        for _ in 0..5000 {
            let bytes: Vec<u8> = (0..(seed % 17)).map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            }).collect();
            let (_, used) = decode(&bytes, true);
            assert!(used <= bytes.len());
            let (_, again) = decode(&bytes[used..], true);
            assert_eq!(again, bytes.len() - used, "{bytes:?}");
        }
    }
}
