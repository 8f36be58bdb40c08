//! The documents a projection sees while a batch is applied: committed documents with
//! the batch's pending changes laid over them.
//!
//! The guest's `put` and `delete` land in memory and are visible to its later `get`s
//! in the same batch at once; a `get` of anything not changed reads the committed
//! document from the store. The runner then commits the pending changes with the
//! checkpoint in one transaction, or, when the batch failed, discards them, so a failed
//! batch leaves no trace. Documents are partition-scoped: the runner sets the partition
//! of the events being applied before each call.
//!
//! Committed documents are kept in memory between batches too, up to a byte budget
//! ([`ProjectionConfig::document_cache_bytes`](super::ProjectionConfig)): the runner
//! holding a generation's lease is the only writer of its documents, so what it read or
//! committed stays true until it loses the lease. A projection that reads each document
//! once per batch (a cart's events are far apart in the log) then reads it from the
//! store once in all, not once per event. The runner forgets them whenever that may no
//! longer hold: a new lease, a fenced or failed commit.
//!
//! An [`Overlay`] is a cheap handle to shared state, so one handle can be boxed into
//! the guest's store for a call (it must be owned and `Send + 'static`) while the
//! runner keeps another to collect the result. Guest calls run on the runner's own
//! thread, so a read blocks on the store's future there.
//!
//! A `put` is checked on the way in: the text must be one JSON object of at most
//! [`DocumentLimits::document_bytes`], and the batch's pending documents may take at
//! most [`DocumentLimits::batch_bytes`]. The first put that breaks a rule is kept as
//! the batch's [`refusal`](Overlay::refusal) and it and every later change of the call
//! are dropped, so a guest cannot grow the host's memory past the limits; the runner
//! then fails the batch, applies its events one per transaction (committing early), and
//! an event that breaks a rule on its own fails under the projection's policy.

use crate::runtime::Documents;
use crate::store::{DocumentChange, DocumentKey, ProjectionStore};
use crate::sync::lock;
use crate::{Error, GuestFault, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;

/// Changes not committed yet: a new document text, or `None` for a delete.
pub(super) type Pending = HashMap<DocumentKey, DocumentChange>;

/// What a projection's documents must hold to.
#[derive(Debug, Clone, Copy)]
pub(super) struct DocumentLimits {
    /// The largest document, in bytes.
    pub(super) document_bytes: usize,
    /// The most bytes of documents (ids included) a batch holds before it commits.
    pub(super) batch_bytes: usize,
}

/// Documents of one projection generation with a batch's changes laid over them.
#[derive(Clone)]
pub(super) struct Overlay(Arc<Mutex<State>>);

struct State {
    store: Arc<dyn ProjectionStore>,
    handle: Handle,
    projection: String,
    generation: u64,
    partition: String,
    pending: Pending,
    /// Committed documents known (a `None` is known absent).
    committed: Committed,
    /// Bytes of the pending changes: ids and document texts.
    pending_bytes: usize,
    limits: DocumentLimits,
    /// Why the first refused put was refused; later changes are dropped.
    refused: Option<String>,
    /// The first read that failed in this batch; the batch is then retried whole.
    error: Option<crate::Error>,
}

/// Committed documents held in memory, up to a byte budget: when the next one would
/// pass it, all are dropped and filling starts over (no bookkeeping per read).
struct Committed {
    documents: HashMap<DocumentKey, DocumentChange>,
    bytes: usize,
    budget: usize,
}

impl Committed {
    fn get(&self, key: &DocumentKey) -> Option<&DocumentChange> {
        self.documents.get(key)
    }

    fn insert(&mut self, key: DocumentKey, document: DocumentChange) {
        let size = key.partition.len()
            + key.collection.len()
            + key.id.len()
            + document.as_ref().map_or(0, String::len);
        if size > self.budget {
            self.documents.remove(&key);
            return;
        }
        if self.bytes + size > self.budget {
            self.clear();
        }
        self.bytes += size;
        self.documents.insert(key, document);
    }

    fn clear(&mut self) {
        self.documents.clear();
        self.bytes = 0;
    }
}

impl Overlay {
    /// An overlay over the committed documents of `projection`'s `generation`, keeping
    /// up to `cache_bytes` of them in memory between batches.
    pub(super) fn new(
        store: Arc<dyn ProjectionStore>,
        handle: Handle,
        projection: &str,
        generation: u64,
        cache_bytes: usize,
        limits: DocumentLimits,
    ) -> Self {
        Overlay(Arc::new(Mutex::new(State {
            store,
            handle,
            projection: projection.to_owned(),
            generation,
            partition: String::new(),
            pending: Pending::new(),
            committed: Committed {
                documents: HashMap::new(),
                bytes: 0,
                budget: cache_bytes,
            },
            pending_bytes: 0,
            limits,
            refused: None,
            error: None,
        })))
    }

    /// Remember `changes` as committed: the runner is about to commit them, and calls
    /// [`forget_committed`](Self::forget_committed) if that does not succeed.
    pub(super) fn committing(&self, changes: &Pending) {
        let mut state = self.state();
        for (key, document) in changes {
            state.committed.insert(key.clone(), document.clone());
        }
    }

    /// Forget every committed document kept in memory: another process may have
    /// written them since, or a commit they came from may not have happened.
    pub(super) fn forget_committed(&self) {
        self.state().committed.clear();
    }

    /// The guest fault of `module` if a put of this batch was refused.
    pub(super) fn refusal(&self, module: &str) -> Result<()> {
        match &self.state().refused {
            Some(reason) => Err(Error::Guest {
                module: module.to_owned(),
                function: "apply",
                fault: GuestFault::Document(reason.clone()),
            }),
            None => Ok(()),
        }
    }

    /// Scope the documents to `partition` for the events applied next.
    pub(super) fn set_partition(&self, partition: &str) {
        let mut state = self.state();
        if state.partition != partition {
            partition.clone_into(&mut state.partition);
        }
    }

    /// Take the pending changes, leaving the overlay empty; fails if a read of the
    /// committed documents failed meanwhile (the changes may rest on a wrong view).
    pub(super) fn take(&self) -> Result<Pending> {
        let mut state = self.state();
        let pending = std::mem::take(&mut state.pending);
        state.pending_bytes = 0;
        state.refused = None;
        match state.error.take() {
            Some(error) => Err(error),
            None => Ok(pending),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.0)
    }
}

impl State {
    fn key(&self, collection: &str, id: &str) -> DocumentKey {
        DocumentKey {
            partition: self.partition.clone(),
            collection: collection.to_owned(),
            id: id.to_owned(),
        }
    }

    /// Lay `change` over the document `key`, unless a put of this batch was refused.
    fn change(&mut self, key: DocumentKey, change: DocumentChange) {
        if self.refused.is_some() {
            return;
        }
        let size = |key: &DocumentKey, change: &DocumentChange| {
            key.collection.len() + key.id.len() + change.as_ref().map_or(0, String::len)
        };
        let added = size(&key, &change);
        let replaced = self.pending.get(&key).map_or(0, |old| size(&key, old));
        let bytes = self.pending_bytes - replaced + added;
        if bytes > self.limits.batch_bytes {
            self.refused = Some(format!(
                "the documents of one batch passed {} bytes (at document '{}' of collection '{}'): write fewer or smaller documents per event",
                self.limits.batch_bytes, key.id, key.collection
            ));
            return;
        }
        self.pending_bytes = bytes;
        self.pending.insert(key, change);
    }

    /// Why `document` cannot be put as `id` of `collection`, if it cannot.
    fn check(&self, collection: &str, id: &str, document: &str) -> Option<String> {
        let limit = self.limits.document_bytes;
        if document.len() > limit {
            return Some(format!(
                "document '{id}' of collection '{collection}' is {} bytes, over the {limit}-byte limit of one document",
                document.len()
            ));
        }
        crate::json::check_object(document).err().map(|why| {
            format!("document '{id}' of collection '{collection}' is not a JSON object ({why})")
        })
    }
}

impl Documents for Overlay {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        let mut state = self.state();
        let key = state.key(collection, id);
        if let Some(pending) = state.pending.get(&key) {
            return pending.clone();
        }
        if let Some(committed) = state.committed.get(&key) {
            return committed.clone();
        }
        let read = state.handle.block_on(state.store.document(
            &state.projection,
            state.generation,
            &key,
        ));
        match read {
            Ok(document) => {
                state.committed.insert(key, document.clone());
                document
            }
            Err(error) => {
                state.error.get_or_insert(error);
                None
            }
        }
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        let mut state = self.state();
        if state.refused.is_some() {
            return;
        }
        if let Some(reason) = state.check(collection, id, &document) {
            state.refused = Some(reason);
            return;
        }
        let key = state.key(collection, id);
        state.change(key, Some(document));
    }

    fn delete(&mut self, collection: &str, id: &str) {
        let mut state = self.state();
        let key = state.key(collection, id);
        state.change(key, None);
    }
}
