//! The bounded tables user space keeps (caches of names, connections,
//! requests in flight), and how full each one is.
//!
//! `lru::LruCache::new(cap)` allocates its whole hash table at once, for
//! tables whose bound (tens of thousands) is far above what they usually
//! hold; `lru(cap)` makes the same bounded cache with a table that grows as
//! entries come, so memory follows what is held.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};

use lru::LruCache;

/// A least-recently-used cache of at most `cap` entries whose table grows
/// with what it holds (a cap of 0 is taken as 1).
pub fn lru<K: Hash + Eq, V>(cap: usize) -> LruCache<K, V> {
    let mut cache = LruCache::unbounded();
    // An empty cache resized: nothing is evicted, nothing allocated.
    cache.resize(NonZeroUsize::new(cap).unwrap_or(NonZeroUsize::MIN));
    cache
}

/// One of podtop's named tables: a bounded cache (`lru`) that counts the
/// entries its bound pushed out, so that what the bound costs is seen
/// (`evicted` in the stats record, `podtop_table_evicted_total`).
///
/// Reads and removals go to the cache itself (`Deref`); the inserting
/// methods are this type's own, so that no insertion escapes the count.
pub struct Table<K: Hash + Eq, V> {
    name: &'static str,
    cache: LruCache<K, V>,
    evicted: u64,
}

impl<K: Hash + Eq, V> Table<K, V> {
    pub fn new(name: &'static str, cap: usize) -> Self {
        Table { name, cache: lru(cap), evicted: 0 }
    }

    /// Counts an insertion of `key` that pushes the least recent entry out:
    /// the table is full and `key` is not in it.
    fn count_push_out(&mut self, key: &K) {
        let full = self.cache.len() == self.cache.cap().get();
        self.evicted += u64::from(full && !self.cache.contains(key));
    }

    /// Inserts or replaces; returns the value replaced under `key`.
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        self.count_push_out(&key);
        self.cache.put(key, value)
    }

    /// Inserts or replaces; returns the entry replaced or pushed out.
    pub fn push(&mut self, key: K, value: V) -> Option<(K, V)> {
        self.count_push_out(&key);
        self.cache.push(key, value)
    }

    /// The value under `key`, made with `make` where there is none.
    pub fn get_or_insert_mut(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.count_push_out(&key);
        self.cache.get_or_insert_mut(key, make)
    }

    /// Pushes out the least recently used entry to make room, counted.
    pub fn evict_lru(&mut self) -> Option<(K, V)> {
        let evicted = self.cache.pop_lru();
        self.evicted += u64::from(evicted.is_some());
        evicted
    }

    pub fn size(&self) -> TableSize {
        TableSize { name: self.name, entries: self.cache.len(), capacity: self.cache.cap().get(), evicted: self.evicted }
    }
}

impl<K: Hash + Eq, V> Deref for Table<K, V> {
    type Target = LruCache<K, V>;
    fn deref(&self) -> &Self::Target {
        &self.cache
    }
}

impl<K: Hash + Eq, V> DerefMut for Table<K, V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cache
    }
}

/// How full one of podtop's tables is: the `stats` record's `tables`, and
/// `podtop_table_entries` / `podtop_table_capacity` /
/// `podtop_table_evicted_total` in its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSize {
    pub name: &'static str,
    pub entries: usize,
    pub capacity: usize,
    /// Entries the bound pushed out since start (what ages out is not counted).
    pub evicted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_cache_allocates_as_it_fills_and_keeps_its_bound() {
        let mut cache: LruCache<u32, u32> = lru(65536);
        // lru's own new(65536) would hold a table for 65,536 entries now.
        assert_eq!(cache.cap().get(), 65536);
        cache.put(1, 1);
        let mut small: LruCache<u32, u32> = lru(3);
        for i in 0..10 {
            small.put(i, i);
        }
        assert_eq!(small.len(), 3, "the least recently used went");
        assert!(small.contains(&9) && !small.contains(&6));
    }

    #[test]
    fn a_table_counts_what_its_bound_pushed_out_and_nothing_else() {
        let mut table: Table<u32, u32> = Table::new("t", 3);
        for i in 0..3 {
            table.put(i, i);
        }
        table.put(2, 20); // a replacement pushes nothing out
        assert_eq!(table.size().evicted, 0);
        table.put(3, 3);
        assert!(table.push(4, 4).is_some_and(|(k, _)| k == 1));
        *table.get_or_insert_mut(5, || 5) += 1;
        table.pop(&5); // removed, not pushed out
        table.evict_lru();
        assert_eq!(table.size(), TableSize { name: "t", entries: 1, capacity: 3, evicted: 4 });
        assert_eq!(table.get(&3), None, "evict_lru took the least recent");
    }
}
