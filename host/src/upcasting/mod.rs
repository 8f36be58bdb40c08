//! Upcasting: stored events in their current shape, on every read for logic or users.
//!
//! Events are never rewritten; their shapes change. The deployed upcaster modules form
//! one [`UpcasterSet`]: each reads some stored event types (no two share one) and turns
//! each such event into zero, one or several events of the current shape, each keeping
//! the stored event's id, stream, positions, recorded-at and tags. Every reader —
//! decider rehydration, projections, HTTP and command-line reads, the live feed — runs
//! what it read through [`UpcasterSet::upcast`] (or reads through
//! [`UpcasterSet::read_log`]), so they all see the same shapes; a raw read skips it.
//!
//! [`Upcasters`] holds the set that is current: deploying an upcaster swaps a new set in
//! at once, and a read in flight finishes on the set it started with. A set has an
//! [`identity`](UpcasterSet::identity) (a hash of its modules' names and content
//! hashes), which keys what is folded under it (decider states and snapshots); the
//! empty set, the one of an engine without upcasters, has the empty identity and
//! costs nothing on a read: events pass through as they are.
//!
//! Chains apply in turn: an event one upcaster made is passed to the upcaster that
//! reads its type, if another one does. An upcaster that keeps a type name (`ItemAdded`
//! in, `ItemAdded` out) is not passed its own output again; each upcaster applies at
//! most once to what came of one stored event, so a chain is bounded by the number of
//! upcasters, and an event that comes back to an earlier upcaster of its chain is an
//! [`Error::UpcastCycle`] naming the chain.

use crate::runtime::{Event, Module, World};
use crate::store::{EventStore, LogFilter, QueryItem, RecordedEvent};
use crate::sync::blocking;
use crate::{Error, Result, sync};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The metadata key (under `refold`) that an upcast event carries: what it was stored as.
pub const UPCAST_FROM: &str = "upcastFrom";

/// The deployed upcasters: one set, swapped whole when an upcaster is deployed.
#[derive(Default)]
pub struct Upcasters {
    current: RwLock<Arc<UpcasterSet>>,
}

impl Upcasters {
    /// The set in force now. Hold it for the whole of one read.
    pub fn current(&self) -> Arc<UpcasterSet> {
        sync::read(&self.current).clone()
    }

    /// Refuse `module` (an upcaster about to be deployed) when it reads an event type
    /// that an upcaster deployed under another name reads.
    pub fn check(&self, module: &Module) -> Result<()> {
        if module.info().world != World::Upcaster {
            return Ok(());
        }
        let current = self.current();
        let name = &module.info().name;
        for event_type in module.event_types()? {
            if let Some(&index) = current.by_type.get(event_type) {
                let other = &current.modules[index];
                if other.info().name != *name {
                    return Err(Error::UpcasterOverlap {
                        module: name.clone(),
                        other: other.info().name.clone(),
                        event_type: event_type.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Swap in the set with `module` as the current version of its name: added when it
    /// is an upcaster, and any upcaster of that name left out when it is not.
    pub(crate) fn deployed(&self, module: &Arc<Module>) {
        let mut current = sync::write(&self.current);
        let name = &module.info().name;
        let is_upcaster = module.info().world == World::Upcaster;
        if !is_upcaster && !current.modules.iter().any(|m| m.info().name == *name) {
            return;
        }
        let mut modules: Vec<Arc<Module>> = current
            .modules
            .iter()
            .filter(|m| m.info().name != *name)
            .cloned()
            .collect();
        if is_upcaster {
            modules.push(module.clone());
        }
        *current = Arc::new(UpcasterSet::of(modules));
    }
}

/// One set of upcasters, as a read applies them.
#[derive(Default)]
pub struct UpcasterSet {
    /// By name.
    modules: Vec<Arc<Module>>,
    /// Which module (index) reads each stored type.
    by_type: HashMap<String, usize>,
    identity: String,
    /// Unique to this set among those made in the process (0 for the empty set).
    serial: u64,
}

impl UpcasterSet {
    /// The set of the upcaster `modules` (outside an engine: the harness), refusing
    /// two that read one type ([`Error::UpcasterOverlap`]) or a module of another
    /// world.
    pub fn new(modules: Vec<Arc<Module>>) -> Result<UpcasterSet> {
        let mut readers: HashMap<&str, &str> = HashMap::new();
        for module in &modules {
            let name = module.info().name.as_str();
            if module.info().world != World::Upcaster {
                return Err(Error::NotA {
                    module: name.to_owned(),
                    wanted: World::Upcaster.name(),
                    actual: module.info().world.name(),
                });
            }
            for event_type in module.event_types()? {
                if let Some(other) = readers.insert(event_type, name) {
                    return Err(Error::UpcasterOverlap {
                        module: name.to_owned(),
                        other: other.to_owned(),
                        event_type: event_type.clone(),
                    });
                }
            }
        }
        Ok(UpcasterSet::of(modules))
    }

    /// The set of `modules` (upcasters with distinct names).
    fn of(mut modules: Vec<Arc<Module>>) -> UpcasterSet {
        modules.sort_by(|a, b| a.info().name.cmp(&b.info().name));
        let mut by_type = HashMap::new();
        for (index, module) in modules.iter().enumerate() {
            for event_type in module.event_types().unwrap_or_default() {
                by_type.insert(event_type.clone(), index);
            }
        }
        let identity = if modules.is_empty() {
            String::new()
        } else {
            let mut digest = Sha256::new();
            for module in &modules {
                digest.update(module.info().name.as_bytes());
                digest.update([0]);
                digest.update(module.info().hash.as_bytes());
                digest.update([b'\n']);
            }
            digest
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        UpcasterSet {
            modules,
            by_type,
            identity,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Whether no upcaster is deployed: reads pass events through as stored.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// Hex SHA-256 of the sorted (name, content hash) pairs of its upcasters; empty for
    /// the empty set.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// A number no other set made in this process has (0: the empty set of an engine
    /// that never had an upcaster). What is cached in memory under a set is keyed by it:
    /// a state cached under a set swapped out since may be behind the store, and a
    /// later set of the same modules must not find it.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The names and versions of its upcasters, by name.
    pub fn modules(&self) -> Vec<(String, u64)> {
        self.modules
            .iter()
            .map(|m| (m.info().name.clone(), m.info().version))
            .collect()
    }

    /// `identity` (of a decider version, say) qualified by this set: itself when the
    /// set is empty, so what was keyed before any upcaster still matches.
    pub fn qualify(&self, identity: &str) -> String {
        if self.is_empty() {
            identity.to_owned()
        } else {
            format!("{identity}+upcasters:{}", self.identity)
        }
    }

    /// The current shape of `events`, in order; each upcast event keeps its stored
    /// event's positions. Without an upcaster for any of them, `events` come back as
    /// they are (no copy).
    pub fn upcast(&self, events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        if self.is_empty() || !events.iter().any(|e| self.reads(&e.event_type)) {
            return Ok(events);
        }
        // Each item: the event so far, and the upcasters (indexes) it went through.
        let mut items: Vec<(RecordedEvent, Vec<usize>)> =
            events.into_iter().map(|e| (e, Vec::new())).collect();
        loop {
            let mut batches: HashMap<usize, Vec<usize>> = HashMap::new();
            for (at, (event, chain)) in items.iter().enumerate() {
                if let Some(module) = self.next_for(event, chain)? {
                    batches.entry(module).or_default().push(at);
                }
            }
            if batches.is_empty() {
                return Ok(items.into_iter().map(|(event, _)| event).collect());
            }
            let mut replaced: HashMap<usize, Vec<(RecordedEvent, Vec<usize>)>> = HashMap::new();
            for (module, ats) in batches {
                let inputs: Vec<Event> = ats.iter().map(|&at| Event::from(&items[at].0)).collect();
                let outputs = self.modules[module].upcast(&inputs)?;
                for (at, made) in ats.into_iter().zip(outputs) {
                    let (stored, chain) = &items[at];
                    let mut chain = chain.clone();
                    chain.push(module);
                    let names: Vec<&str> = chain
                        .iter()
                        .map(|&m| self.modules[m].info().name.as_str())
                        .collect();
                    let made = made
                        .into_iter()
                        .map(|event| (upcast_event(stored, event, &names), chain.clone()))
                        .collect();
                    replaced.insert(at, made);
                }
            }
            items = items
                .into_iter()
                .enumerate()
                .flat_map(|(at, item)| replaced.remove(&at).unwrap_or_else(|| vec![item]))
                .collect();
        }
    }

    /// [`upcast`](Self::upcast) from async code: the guest calls run off the async
    /// runtime's threads (on the blocking pool), and nothing moves when none is needed.
    pub async fn upcast_async(
        self: &Arc<Self>,
        events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>> {
        if !events.iter().any(|e| self.reads(&e.event_type)) {
            return Ok(events);
        }
        let set = self.clone();
        blocking(move || set.upcast(events)).await?
    }

    /// Whether an upcaster of the set reads `event_type`.
    fn reads(&self, event_type: &str) -> bool {
        self.by_type.contains_key(event_type)
    }

    /// The upcaster `event` goes to next, having gone through `chain`: none when no
    /// upcaster reads its type or the last one of its chain made it in a type it reads
    /// itself; a cycle when an earlier one of its chain reads it.
    fn next_for(&self, event: &RecordedEvent, chain: &[usize]) -> Result<Option<usize>> {
        let Some(&module) = self.by_type.get(&event.event_type) else {
            return Ok(None);
        };
        match chain.iter().position(|&m| m == module) {
            None => Ok(Some(module)),
            Some(at) if at + 1 == chain.len() => Ok(None),
            Some(_) => Err(Error::UpcastCycle {
                modules: chain
                    .iter()
                    .map(|&m| self.modules[m].info().name.clone())
                    .collect(),
                event_type: event.event_type.clone(),
            }),
        }
    }

    /// The filter to read the store with so that `filter`, applied to upcast events,
    /// misses nothing: with a type filter, also every stored type the set reads; with a
    /// query, each of its items that names types also for the stored types the set
    /// reads (with the item's tags, which upcasting keeps).
    pub fn stored_filter<'a>(&self, filter: &'a LogFilter) -> Cow<'a, LogFilter> {
        let typed_query = filter
            .query
            .as_ref()
            .is_some_and(|q| q.items.iter().any(|item| !item.types.is_empty()));
        if self.is_empty() || (filter.event_types.is_empty() && !typed_query) {
            return Cow::Borrowed(filter);
        }
        let mut stored = filter.clone();
        if !filter.event_types.is_empty() {
            let types: BTreeSet<&String> = filter
                .event_types
                .iter()
                .chain(self.by_type.keys())
                .collect();
            stored.event_types = types.into_iter().cloned().collect();
        }
        if let Some(query) = &mut stored.query {
            let read: Vec<String> = self.by_type.keys().cloned().collect();
            let old_shapes: Vec<QueryItem> = query
                .items
                .iter()
                .filter(|item| !item.types.is_empty())
                .map(|item| QueryItem::types(read.clone()).with_tags(item.tags.clone()))
                .collect();
            query.items.extend(old_shapes);
        }
        Cow::Owned(stored)
    }

    /// The upcast `events` (read with [`stored_filter`](Self::stored_filter)) that pass
    /// `filter`'s types.
    pub fn upcast_filtered(
        &self,
        events: Vec<RecordedEvent>,
        filter: &LogFilter,
    ) -> Result<Vec<RecordedEvent>> {
        if self.is_empty() {
            return Ok(events);
        }
        let mut events = self.upcast(events)?;
        if !filter.event_types.is_empty() {
            events.retain(|e| filter.event_types.contains(&e.event_type));
        }
        if let Some(query) = &filter.query {
            events.retain(|e| query.matches(&e.event_type, &e.tags));
        }
        Ok(events)
    }

    /// Events of the global log after `after` that pass `filter` once upcast (all of
    /// them when `raw`: as stored), reading at most `limit` stored events at a time
    /// until at least one passes or the log ends. One stored event may become several,
    /// so a read may return a few more than `limit`; the events of one stored event are
    /// never split between reads, so `after` = the last global position returned resumes.
    pub async fn read_log(
        self: &Arc<Self>,
        store: &dyn EventStore,
        after: u64,
        filter: &LogFilter,
        limit: usize,
        raw: bool,
    ) -> Result<Vec<RecordedEvent>> {
        if raw || self.is_empty() {
            return store.read_log(after, filter, limit).await;
        }
        let stored_filter = self.stored_filter(filter);
        let mut after = after;
        loop {
            let stored = store.read_log(after, &stored_filter, limit).await?;
            let Some(last) = stored.last() else {
                return Ok(Vec::new());
            };
            after = last.global_position;
            let end = stored.len() < limit;
            let mut events = self.upcast_async(stored).await?;
            if !filter.event_types.is_empty() {
                events.retain(|e| filter.event_types.contains(&e.event_type));
            }
            if !events.is_empty() || end {
                return Ok(events);
            }
        }
    }
}

/// The event `made` of `stored` by the upcasters `chain`: the stored event's id,
/// stream and positions, with `refold.upcastFrom` in its metadata; `stored` itself
/// when the upcaster passed it through unchanged.
fn upcast_event(
    stored: &RecordedEvent,
    made: crate::runtime::UpcastEvent,
    chain: &[&str],
) -> RecordedEvent {
    if made.metadata.is_none()
        && made.event_type == stored.event_type
        && same_json(&made.data, &stored.data)
    {
        // Passed through: in its current shape already.
        return stored.clone();
    }
    let metadata = made.metadata.as_deref().unwrap_or(&stored.metadata);
    let from = upcast_from(stored, chain);
    RecordedEvent {
        event_type: made.event_type,
        data: made.data,
        metadata: with_upcast_from(metadata, from),
        ..stored.clone()
    }
}

/// Whether two JSON texts hold the same value (the same text, or the same value
/// written with other spacing or key order).
fn same_json(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// What `refold.upcastFrom` holds: the stored type (of the first event of the chain)
/// and the upcasters that made the event.
fn upcast_from(stored: &RecordedEvent, chain: &[&str]) -> serde_json::Value {
    let stored_type = serde_json::from_str::<serde_json::Value>(&stored.metadata)
        .ok()
        .and_then(|m| m["refold"][UPCAST_FROM]["type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| stored.event_type.clone());
    serde_json::json!({ "type": stored_type, "upcasters": chain })
}

/// `metadata` (a JSON object, as checked when the guest returned it or the store took
/// it) with `refold.upcastFrom` set to `from`.
fn with_upcast_from(metadata: &str, from: serde_json::Value) -> String {
    let mut value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(metadata).unwrap_or_default();
    let refold = value
        .entry("refold")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !refold.is_object() {
        *refold = serde_json::Value::Object(Default::default());
    }
    refold[UPCAST_FROM] = from;
    serde_json::Value::Object(value).to_string()
}
