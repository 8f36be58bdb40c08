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
//! An [`Overlay`] is a cheap handle to shared state, so one handle can be boxed into
//! the guest's store for a call (it must be owned and `Send + 'static`) while the
//! runner keeps another to collect the result. Guest calls run on the runner's own
//! thread, so a read blocks on the store's future there.

use crate::Result;
use crate::runtime::Documents;
use crate::store::{DocumentChange, DocumentKey, ProjectionStore};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;

/// Changes not committed yet: a new document text, or `None` for a delete.
pub(super) type Pending = HashMap<DocumentKey, DocumentChange>;

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
    /// The first read that failed in this batch; the batch is then retried whole.
    error: Option<crate::Error>,
}

impl Overlay {
    /// An overlay over the committed documents of `projection`'s `generation`.
    pub(super) fn new(
        store: Arc<dyn ProjectionStore>,
        handle: Handle,
        projection: &str,
        generation: u64,
    ) -> Self {
        Overlay(Arc::new(Mutex::new(State {
            store,
            handle,
            projection: projection.to_owned(),
            generation,
            partition: String::new(),
            pending: Pending::new(),
            error: None,
        })))
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
}

impl Documents for Overlay {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        let mut state = self.state();
        let key = state.key(collection, id);
        if let Some(pending) = state.pending.get(&key) {
            return pending.clone();
        }
        let read = state.handle.block_on(state.store.document(
            &state.projection,
            state.generation,
            &key,
        ));
        match read {
            Ok(document) => document,
            Err(error) => {
                state.error.get_or_insert(error);
                None
            }
        }
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        let mut state = self.state();
        let key = state.key(collection, id);
        state.pending.insert(key, Some(document));
    }

    fn delete(&mut self, collection: &str, id: &str) {
        let mut state = self.state();
        let key = state.key(collection, id);
        state.pending.insert(key, None);
    }
}
