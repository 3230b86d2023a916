//! Names fit to print: what a runtime's state, a process or a pod calls itself
//! is shown to people (labels on a dashboard, a terminal that tails JSON, the TUI).
//!
//! A pod's author writes its name, namespace and container names, and the
//! runtime's state files hold them as written. A C0 or C1 control (ESC, or
//! U+009B, a terminal's CSI) in such a name steers a terminal that shows it;
//! a bidirectional override or isolate makes `txt.exe` read as `exe.txt` and
//! one pod's name pass for another's. Those characters are never part of a
//! name anyone means to show, so they are replaced by U+FFFD: visible, not
//! mistaken for anything, and a cleaned name cannot be made to look like a
//! clean one it is not.

use std::borrow::Cow;

/// What stands in for a disguising character.
pub const REPLACEMENT: char = '\u{fffd}';

/// Characters that control a terminal or the direction of text rather than
/// show something: C0 and C1 controls, DEL, bidirectional marks, embeddings,
/// overrides and isolates, and the line and paragraph separators.
pub fn is_disguising(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every disguising character replaced by U+FFFD; borrowed, without
/// a copy, when there is none (the common case: names are plain).
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_disguising) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if is_disguising(c) { REPLACEMENT } else { c }).collect())
}

/// [`printable`] for an owned name: no copy where it is already clean.
pub fn printable_owned(s: String) -> String {
    match printable(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(cleaned) => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_is_borrowed_as_is() {
        for name in ["web-7d4b9c", "kube-system", "café", "名前", "a b"] {
            assert!(matches!(printable(name), Cow::Borrowed(n) if n == name), "{name}");
        }
    }

    #[test]
    fn every_control_and_direction_character_is_replaced_one_for_one() {
        let hostile = "a\u{1b}[31mb\u{7}c\u{9b}d\u{202e}exe.txt\u{2066}e\u{200f}\u{7f}\u{85}\n\t\0f";
        let cleaned = printable(hostile);
        assert!(!cleaned.chars().any(is_disguising), "{cleaned:?}");
        assert_eq!(cleaned, "a\u{fffd}[31mb\u{fffd}c\u{fffd}d\u{fffd}exe.txt\u{fffd}e\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}f");
        assert_eq!(cleaned.chars().count(), hostile.chars().count());
    }

    #[test]
    fn the_whole_set_is_caught() {
        let set = (0u32..=0x1f)
            .chain([0x7f])
            .chain(0x80..=0x9f)
            .chain(0x202a..=0x202e)
            .chain(0x2066..=0x2069)
            .chain([0x200e, 0x200f]);
        for c in set.filter_map(char::from_u32) {
            assert!(is_disguising(c), "U+{:04X}", c as u32);
        }
        for c in [' ', '~', '\u{a0}', '\u{e9}', '\u{200b}', '\u{2070}'] {
            assert!(!is_disguising(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn an_owned_clean_name_is_not_copied() {
        let name = String::from("checkout");
        let ptr = name.as_ptr();
        let kept = printable_owned(name);
        assert_eq!(kept.as_ptr(), ptr);
        assert_eq!(printable_owned("x\u{1b}y".into()), "x\u{fffd}y");
    }
}
