//! Recent stream states, so a hot stream costs one `decide` and one append.
//!
//! Entries are keyed by (logic identity, partition, stream) and bounded by the total
//! bytes of the states held; the least recently used go first. A cached state is
//! only ever a starting point: the handler appends with the cached version as the
//! expected version, so a state that fell behind the store is caught by the
//! conflict and brought up to date from the store, never decided on silently.

use super::DeciderLogic;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub(crate) identity: String,
    pub(crate) partition: String,
    pub(crate) stream: String,
}

impl StreamKey {
    /// The key of `stream` in `partition` as folded by `logic`.
    pub(crate) fn new(logic: &dyn DeciderLogic, partition: &str, stream: &str) -> Self {
        StreamKey {
            identity: logic.identity().to_owned(),
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
        let mut inner = self.inner.lock().expect("state cache poisoned");
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
        let mut inner = self.inner.lock().expect("state cache poisoned");
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
        self.inner.lock().expect("state cache poisoned").remove(key);
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().expect("state cache poisoned").bytes
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
