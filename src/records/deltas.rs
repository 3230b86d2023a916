//! The kernel's counters only grow; records carry what changed since the last read.

use crate::events::CgroupCounters;

use std::collections::HashMap;
use std::hash::Hash;

/// A set of cumulative counters.
pub trait Counters: Copy + Default + PartialEq {
    /// `self - earlier`, field by field (never below zero).
    fn since(self, earlier: Self) -> Self;
}

impl Counters for CgroupCounters {
    fn since(self, earlier: Self) -> Self {
        CgroupCounters::since(self, earlier)
    }
}

/// Remembers the last totals of each entry of a kernel map.
pub struct Deltas<Id, C> {
    last: HashMap<Id, C>,
    current: HashMap<Id, C>,
}

impl<Id, C> Default for Deltas<Id, C> {
    fn default() -> Self {
        Deltas { last: HashMap::new(), current: HashMap::new() }
    }
}

impl<Id: Hash + Eq, C: Counters> Deltas<Id, C> {
    /// The change since the previous read, or None when the entry stayed idle.
    pub fn observe(&mut self, id: Id, total: C) -> Option<C> {
        let last = self.last.get(&id).copied().unwrap_or_default();
        self.current.insert(id, total);
        (total != last).then(|| total.since(last))
    }

    /// Ends one read of the map: entries not observed are gone.
    pub fn finish_read(&mut self) {
        self.last = std::mem::take(&mut self.current);
    }

    /// The kernel's entry was removed: one with the same id counts from zero.
    pub fn forget(&mut self, id: &Id) {
        self.last.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone, Copy, PartialEq)]
    struct Bytes(u64);

    impl Counters for Bytes {
        fn since(self, earlier: Self) -> Self {
            Bytes(self.0.saturating_sub(earlier.0))
        }
    }

    #[test]
    fn reports_changes_idles_and_restarts() {
        let mut d = Deltas::default();
        assert_eq!(d.observe("a", Bytes(10)), Some(Bytes(10)));
        d.finish_read();
        assert_eq!(d.observe("a", Bytes(15)), Some(Bytes(5)));
        d.finish_read();
        assert_eq!(d.observe("a", Bytes(15)), None, "idle");
        d.finish_read();
        d.forget(&"a");
        assert_eq!(d.observe("a", Bytes(3)), Some(Bytes(3)), "a new entry counts from zero");
    }
}
