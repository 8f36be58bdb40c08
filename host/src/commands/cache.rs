//! Recent stream states, so a hot stream costs one `decide` and one append.
//!
//! Entries are keyed by (logic identity, upcaster set, partition, stream) and bounded by the total
//! bytes of the states held; the least recently used go first. A cached state is
//! only ever a starting point: the handler appends with the cached version as the
//! expected version, so a state that fell behind the store is caught by the
//! conflict and brought up to date from the store, never decided on silently.

use super::DeciderLogic;
use crate::sync::lock;
use crate::upcasting::UpcasterSet;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub(crate) identity: String,
    /// The upcaster set's [`serial`](UpcasterSet::serial): states cached under one set
    /// are never read under another.
    pub(crate) upcasters: u64,
    pub(crate) partition: String,
    pub(crate) stream: String,
}

impl StreamKey {
    /// The key of `stream` in `partition` as folded by `logic` from the events as
    /// `upcasters` upcast them.
    pub(crate) fn new(
        logic: &dyn DeciderLogic,
        upcasters: &UpcasterSet,
        partition: &str,
        stream: &str,
    ) -> Self {
        StreamKey {
            identity: upcasters.qualify(logic.identity()),
            upcasters: upcasters.serial(),
            partition: partition.to_owned(),
            stream: stream.to_owned(),
        }
    }
}

/// A folded state and the stream version it includes.
#[derive(Clone)]
pub(crate) struct CachedState {
    pub(crate) state: Vec<u8>,
    pub(crate) version: u64,
}

pub(crate) struct StateCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    bytes: usize,
    clock: u64,
    entries: HashMap<StreamKey, (CachedState, u64)>,
    by_use: BTreeMap<u64, StreamKey>,
}

impl StateCache {
    pub(crate) fn new(capacity: usize) -> Self {
        StateCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn get(&self, key: &StreamKey) -> Option<CachedState> {
        let mut inner = lock(&self.inner);
        inner.clock += 1;
        let now = inner.clock;
        let (state, used) = inner.entries.get_mut(key)?;
        let previous = std::mem::replace(used, now);
        let state = state.clone();
        inner.by_use.remove(&previous);
        inner.by_use.insert(now, key.clone());
        Some(state)
    }

    pub(crate) fn put(&self, key: StreamKey, state: CachedState) {
        let size = entry_size(&key, &state);
        if size > self.capacity {
            return;
        }
        let mut inner = lock(&self.inner);
        inner.remove(&key);
        inner.clock += 1;
        let now = inner.clock;
        inner.bytes += size;
        inner.by_use.insert(now, key.clone());
        inner.entries.insert(key, (state, now));
        while inner.bytes > self.capacity {
            let Some((_, oldest)) = inner.by_use.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = inner.entries.remove(&oldest) {
                inner.bytes -= entry_size(&oldest, &evicted);
            }
        }
    }

    pub(crate) fn remove(&self, key: &StreamKey) {
        lock(&self.inner).remove(key);
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        lock(&self.inner).bytes
    }
}

impl Inner {
    fn remove(&mut self, key: &StreamKey) {
        if let Some((state, used)) = self.entries.remove(key) {
            self.by_use.remove(&used);
            self.bytes -= entry_size(key, &state);
        }
    }
}

fn entry_size(key: &StreamKey, state: &CachedState) -> usize {
    const OVERHEAD: usize = 96;
    key.identity.len() + key.partition.len() + key.stream.len() + state.state.len() + OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every entry costs besides its key and state (see `entry_size`).
    const OVERHEAD: usize = 96;

    /// A key whose three parts take 1 + 1 + `stream.len()` bytes.
    fn key(stream: &str) -> StreamKey {
        StreamKey {
            identity: "i".to_owned(),
            upcasters: 0,
            partition: "p".to_owned(),
            stream: stream.to_owned(),
        }
    }

    fn state(bytes: usize, version: u64) -> CachedState {
        CachedState {
            state: vec![7; bytes],
            version,
        }
    }

    /// The bytes an entry of `key(stream)` with a `bytes`-byte state is charged.
    fn cost(stream: &str, bytes: usize) -> usize {
        2 + stream.len() + bytes + OVERHEAD
    }

    fn held(cache: &StateCache, stream: &str) -> Option<(usize, u64)> {
        cache
            .get(&key(stream))
            .map(|cached| (cached.state.len(), cached.version))
    }

    #[test]
    fn an_entry_is_charged_its_key_its_state_and_the_overhead() {
        let k = StreamKey {
            identity: "hash".to_owned(),
            upcasters: 0,
            partition: "default".to_owned(),
            stream: "cart-1".to_owned(),
        };
        assert_eq!(entry_size(&k, &state(10, 1)), 4 + 7 + 6 + 10 + OVERHEAD);
        assert_eq!(cost("s", 10), entry_size(&key("s"), &state(10, 1)));
    }

    #[test]
    fn put_get_replace_and_remove_keep_the_byte_count() {
        let cache = StateCache::new(10_000);
        assert_eq!(cache.bytes(), 0);
        cache.put(key("a"), state(100, 1));
        cache.put(key("b"), state(50, 4));
        assert_eq!(cache.bytes(), cost("a", 100) + cost("b", 50));
        assert_eq!(held(&cache, "a"), Some((100, 1)));
        assert_eq!(held(&cache, "b"), Some((50, 4)));
        assert_eq!(
            cache.bytes(),
            cost("a", 100) + cost("b", 50),
            "get costs nothing"
        );

        // A new state for a key replaces the old one and its charge.
        cache.put(key("a"), state(300, 2));
        assert_eq!(held(&cache, "a"), Some((300, 2)));
        assert_eq!(cache.bytes(), cost("a", 300) + cost("b", 50));
        cache.put(key("a"), state(10, 3));
        assert_eq!(cache.bytes(), cost("a", 10) + cost("b", 50));

        cache.remove(&key("a"));
        assert_eq!(held(&cache, "a"), None);
        assert_eq!(cache.bytes(), cost("b", 50));
        cache.remove(&key("a"));
        cache.remove(&key("never"));
        assert_eq!(
            cache.bytes(),
            cost("b", 50),
            "removing a missing key changes nothing"
        );
        cache.remove(&key("b"));
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn keys_differing_in_any_part_are_different_entries() {
        let cache = StateCache::new(10_000);
        let base = key("s");
        let other_identity = StreamKey {
            identity: "j".to_owned(),
            upcasters: 0,
            ..base.clone()
        };
        let other_partition = StreamKey {
            partition: "q".to_owned(),
            ..base.clone()
        };
        cache.put(base.clone(), state(1, 1));
        cache.put(other_identity.clone(), state(2, 2));
        cache.put(other_partition.clone(), state(3, 3));
        assert_eq!(cache.get(&base).map(|c| c.version), Some(1));
        assert_eq!(cache.get(&other_identity).map(|c| c.version), Some(2));
        assert_eq!(cache.get(&other_partition).map(|c| c.version), Some(3));
        assert_eq!(cache.bytes(), 3 * cost("s", 0) + 1 + 2 + 3);
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted_first() {
        // Room for exactly three entries of a 100-byte state.
        let cache = StateCache::new(3 * cost("a", 100));
        cache.put(key("a"), state(100, 1));
        cache.put(key("b"), state(100, 1));
        cache.put(key("c"), state(100, 1));
        assert_eq!(
            cache.bytes(),
            3 * cost("a", 100),
            "a full cache evicts nothing"
        );

        // Reading `a` makes `b` the least recently used.
        assert!(held(&cache, "a").is_some());
        cache.put(key("d"), state(100, 1));
        assert_eq!(held(&cache, "b"), None);
        for kept in ["a", "c", "d"] {
            assert!(held(&cache, kept).is_some(), "{kept} was evicted");
        }
        assert_eq!(cache.bytes(), 3 * cost("a", 100));

        // The reads above left `a`, `c`, `d` from oldest to newest. Replacing an entry
        // makes it the newest, too: replacing `a` leaves `c` the oldest.
        cache.put(key("a"), state(100, 2));
        cache.put(key("e"), state(100, 1));
        assert_eq!(held(&cache, "c"), None);
        for kept in ["a", "d", "e"] {
            assert!(held(&cache, kept).is_some(), "{kept} was evicted");
        }
    }

    #[test]
    fn a_large_entry_evicts_as_many_old_ones_as_it_needs() {
        let capacity = 4 * cost("a", 100);
        let cache = StateCache::new(capacity);
        for stream in ["a", "b", "c", "d"] {
            cache.put(key(stream), state(100, 1));
        }
        // Needs the room of two small ones and a little more: the three oldest go.
        let big = 2 * cost("a", 100) + 100;
        cache.put(key("x"), state(big - cost("x", 0), 1));
        assert_eq!(cache.bytes(), cost("d", 100) + big);
        for gone in ["a", "b", "c"] {
            assert_eq!(held(&cache, gone), None, "{gone} was kept");
        }
        assert_eq!(held(&cache, "d"), Some((100, 1)));
        assert_eq!(held(&cache, "x"), Some((big - cost("x", 0), 1)));

        // An entry of exactly the capacity fits, alone.
        cache.put(key("y"), state(capacity - cost("y", 0), 1));
        assert_eq!(cache.bytes(), capacity);
        assert_eq!(held(&cache, "x"), None);
        assert!(held(&cache, "y").is_some());
    }

    #[test]
    fn an_entry_larger_than_the_whole_cache_is_not_kept_and_evicts_nothing() {
        let capacity = 2 * cost("a", 100);
        let cache = StateCache::new(capacity);
        cache.put(key("a"), state(100, 1));
        cache.put(key("huge"), state(capacity, 1));
        assert_eq!(held(&cache, "huge"), None);
        assert_eq!(held(&cache, "a"), Some((100, 1)));
        assert_eq!(cache.bytes(), cost("a", 100));
    }

    #[test]
    fn a_cache_of_no_bytes_keeps_nothing() {
        let cache = StateCache::new(0);
        cache.put(key("a"), state(0, 1));
        assert_eq!(held(&cache, "a"), None);
        assert_eq!(cache.bytes(), 0);
    }
}
