//! The bounded tables user space keeps (caches of names, connections,
//! requests in flight), and how full each one is.
//!
//! `lru::LruCache::new(cap)` allocates its whole hash table at once: the
//! tables of 65,536 entries were 14.6 of podtop's 27.4 MiB of live heap
//! (heaptrack), their pages made resident one random bucket at a time, so
//! memory crept up for as long as the tables filled. `lru(cap)` makes the
//! same bounded cache with a table that grows as entries come.

use std::hash::Hash;
use std::num::NonZeroUsize;

use lru::LruCache;

/// A least-recently-used cache of at most `cap` entries whose table grows
/// with what it holds (a cap of 0 is taken as 1).
pub fn lru<K: Hash + Eq, V>(cap: usize) -> LruCache<K, V> {
    let mut cache = LruCache::unbounded();
    // An empty cache resized: nothing is evicted, nothing allocated.
    cache.resize(NonZeroUsize::new(cap).unwrap_or(NonZeroUsize::MIN));
    cache
}

/// How full one of podtop's tables is: the `stats` record's `tables`, and
/// `podtop_table_entries` / `podtop_table_capacity` in its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSize {
    pub name: &'static str,
    pub entries: usize,
    pub capacity: usize,
}

impl TableSize {
    pub fn of<K: Hash + Eq, V>(name: &'static str, cache: &LruCache<K, V>) -> TableSize {
        TableSize { name, entries: cache.len(), capacity: cache.cap().get() }
    }
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
        assert_eq!(TableSize::of("t", &small), TableSize { name: "t", entries: 3, capacity: 3 });
    }
}
