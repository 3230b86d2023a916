//! What the footer names of a screen's keys: each screen's table of them,
//! in words and in short, apart from the footer that draws them (the node
//! screen draws the footer's state, the footer the node screen's keys).

/// A key the footer names, in words and in as few as still say what it does.
pub struct KeyHint {
    pub long: &'static str,
    pub short: &'static str,
}

/// `KeyHint { long, short }`, for the screens' tables of keys.
pub const fn hint(long: &'static str, short: &'static str) -> KeyHint {
    KeyHint { long, short }
}
