//! Given events → then documents, for projection modules.
//!
//! A case runs the way the projection runner does: only the events whose type the
//! module declares (or that its query matches) reach it, each partition's events are applied in one batch to that
//! partition's documents, and the documents are compared with the expected ones.
//! Every case also checks that `apply` is deterministic: applied again on a fresh
//! instance and on the warm one, each partition's events must write the same
//! documents, byte for byte, because the runner rebuilds read models and retries
//! batches on whichever instance is free.

use super::Result;
use super::{Mode, Rules, Spec, Verdict, fault_or_error, parse_json};
use crate::runtime::Documents;
use crate::runtime::Event;
use crate::store::DEFAULT_PARTITION;
use crate::sync::lock;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Where a document lives: partition, collection, id.
type Key = (String, String, String);

/// A projection case being written: the history and the rules.
pub type ProjectionSpec<'m, 'r> = Spec<'m, 'r, ProjectionWorld>;

/// Marks a [`Spec`] for a projection module.
#[derive(Debug, Clone, Copy)]
pub struct ProjectionWorld;

/// The documents a projection case expects, by partition, collection and id.
///
/// A document expected as `None` must not exist. With [`Mode::Exact`] the expected
/// documents are the whole read model: any other document is a difference. With
/// [`Mode::Partial`] only the documents named are checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedDocuments {
    documents: BTreeMap<Key, Option<Value>>,
}

impl ExpectedDocuments {
    /// No documents: with [`Mode::Exact`], an empty read model.
    pub fn new() -> ExpectedDocuments {
        ExpectedDocuments::default()
    }

    /// Also expect `document` as `id` of `collection`, in the default partition.
    pub fn document(self, collection: &str, id: &str, document: Value) -> ExpectedDocuments {
        self.in_partition(DEFAULT_PARTITION, collection, id, Some(document))
    }

    /// Also expect that `id` of `collection` does not exist, in the default partition.
    pub fn absent(self, collection: &str, id: &str) -> ExpectedDocuments {
        self.in_partition(DEFAULT_PARTITION, collection, id, None)
    }

    /// Also expect `document` (or, for `None`, no document) as `id` of `collection`
    /// in `partition`.
    pub fn in_partition(
        mut self,
        partition: &str,
        collection: &str,
        id: &str,
        document: Option<Value>,
    ) -> ExpectedDocuments {
        self.documents.insert(
            (partition.to_owned(), collection.to_owned(), id.to_owned()),
            document,
        );
        self
    }
}

impl<'m, 'r> ProjectionSpec<'m, 'r> {
    /// Run the case against `expected`. Differences, guest faults included, are in
    /// the verdict; an error means the case could not run (e.g. the module is not a
    /// projection).
    pub fn then_documents(self, expected: &ExpectedDocuments) -> Result<Verdict> {
        let module = self.module.module();
        let wanted = module.event_types()?;
        let query = module.projection_query();
        let mut by_partition: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        let mut verdict = Verdict::default();
        let history = self.history();
        let Some(history) = fault_or_error(history, "given (upcast)", &mut verdict)? else {
            return Ok(verdict);
        };
        for event in history {
            let wants = match query {
                Some(query) => query.matches(&event.event_type, &event.tags),
                None => wanted.is_empty() || wanted.contains(&event.event_type),
            };
            if wants {
                by_partition
                    .entry(event.partition.clone())
                    .or_default()
                    .push(event);
            }
        }
        let mut actual = BTreeMap::new();
        let mut first = BTreeMap::new();
        for (partition, events) in &by_partition {
            let Some(written) = fault_or_error(applied(module, events), "given", &mut verdict)?
            else {
                return Ok(verdict);
            };
            for ((collection, id), text) in &written {
                let key = (partition.clone(), collection.clone(), id.clone());
                actual.insert(key, parse_json(text));
            }
            first.insert(partition, written);
        }
        compare(expected, &actual, &self.rules, &mut verdict);
        let fresh = self.module.fresh()?;
        for (instance, module) in [("fresh", &fresh), ("warm", module)] {
            for (partition, events) in &by_partition {
                let what = format!("determinism of apply ({instance} instance)");
                let Some(again) = fault_or_error(applied(module, events), &what, &mut verdict)?
                else {
                    return Ok(verdict);
                };
                if Some(&again) != first.get(partition) {
                    verdict.push(format!(
                        "apply is not deterministic: the events of partition '{partition}' wrote other documents on a {instance} instance than the first time — does the module keep global state?"
                    ));
                    return Ok(verdict);
                }
            }
        }
        Ok(verdict)
    }
}

/// The documents `events` (of one partition) write when applied to none.
fn applied(
    module: &crate::runtime::Module,
    events: &[Event],
) -> crate::Result<BTreeMap<(String, String), String>> {
    let written = SharedDocuments::default();
    let mut documents: Box<dyn Documents> = Box::new(written.clone());
    module.apply(events, &mut documents)?;
    Ok(written.take())
}

fn compare(
    expected: &ExpectedDocuments,
    actual: &BTreeMap<Key, Value>,
    rules: &Rules,
    verdict: &mut Verdict,
) {
    let mut keys: BTreeSet<&Key> = expected.documents.keys().collect();
    if rules.mode() == Mode::Exact {
        keys.extend(actual.keys());
    }
    for key in keys {
        let label = label(key);
        match (expected.documents.get(key), actual.get(key)) {
            (Some(Some(expected)), Some(actual)) => {
                for difference in rules.diff(&label, expected, actual) {
                    verdict.push(difference);
                }
            }
            (Some(Some(_)), None) => {
                verdict.push(format!("{label}: expected a document, got none"))
            }
            (Some(None) | None, Some(actual)) => verdict.push(format!(
                "{label}: expected no document, got {}",
                super::matching::show(actual)
            )),
            (Some(None) | None, None) => {}
        }
    }
}

/// `documents.<collection>.<id>` in the default partition, else
/// `partitions.<partition>.<collection>.<id>`.
fn label((partition, collection, id): &Key) -> String {
    if partition == DEFAULT_PARTITION {
        format!("documents.{collection}.{id}")
    } else {
        format!("partitions.{partition}.{collection}.{id}")
    }
}

/// In-memory documents the harness keeps a handle on while the module writes them.
#[derive(Clone, Default)]
struct SharedDocuments(Arc<Mutex<BTreeMap<(String, String), String>>>);

impl SharedDocuments {
    fn take(&self) -> BTreeMap<(String, String), String> {
        self.with(std::mem::take)
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<(String, String), String>) -> R) -> R {
        f(&mut lock(&self.0))
    }
}

impl Documents for SharedDocuments {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        self.with(|documents| {
            documents
                .get(&(collection.to_owned(), id.to_owned()))
                .cloned()
        })
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        self.with(|documents| documents.insert((collection.to_owned(), id.to_owned()), document));
    }

    fn delete(&mut self, collection: &str, id: &str) {
        self.with(|documents| documents.remove(&(collection.to_owned(), id.to_owned())));
    }
}
