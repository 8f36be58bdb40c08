//! The projection as the runner sees it: wasm module, native Rust, or a decider's
//! `evolve` alike.
//!
//! [`ProjectionLogic`] is all the runner needs: a name, an identity (a new identity
//! means a new version, rebuilt beside the old one), which events it wants, and a batch
//! `apply` against documents. A deployed [`Module`] implements it through its
//! component; [`NativeProjection`] implements it with a `refold_guest::Projection`
//! compiled into the host, through the same `wire::apply` the component runs, so a
//! benchmark can drive the same runner with both and compare.

use crate::runtime::Documents;
use crate::runtime::{Event, Module};
use crate::store::{BuiltBy, LogFilter, Query, RecordedEvent};
use crate::{Error, GuestFault, Result};
use std::marker::PhantomData;

/// Read-side logic the projection runner can drive.
pub trait ProjectionLogic: Send + Sync {
    /// The projection's name: its documents, checkpoint and status are kept under it.
    fn name(&self) -> &str;
    /// The module whose logic this is and its version, as status reports them, and the
    /// identity of the logic: deploying logic with another identity under the same name
    /// rebuilds the read model beside the old one.
    fn built_by(&self) -> BuiltBy;
    /// The event types it wants (empty: all), for the default [`filter`](Self::filter).
    fn event_types(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// The query its events are selected by, if it has one instead of event types,
    /// for the default [`filter`](Self::filter).
    fn query(&self) -> Option<Query> {
        None
    }
    /// Which events of the global log it wants; the runner never passes it others.
    /// By default those its [`query`](Self::query) matches, else those of its
    /// [`event_types`](Self::event_types).
    fn filter(&self) -> Result<LogFilter> {
        if let Some(query) = self.query() {
            return Ok(LogFilter::query(query));
        }
        Ok(LogFilter {
            event_types: self.event_types()?,
            ..LogFilter::default()
        })
    }
    /// Apply `events` (one partition, in global order) to `documents`.
    fn apply(&self, events: &[RecordedEvent], documents: &mut Box<dyn Documents>) -> Result<()>;
    /// The most events it takes per batch, whatever the runner's batch size: logic
    /// whose events each cost writes of their own (a workflow's) takes fewer, so a
    /// batch commits well within the runner's lease.
    fn max_batch(&self) -> usize {
        usize::MAX
    }
}

impl ProjectionLogic for Module {
    fn name(&self) -> &str {
        &self.info().name
    }

    fn built_by(&self) -> BuiltBy {
        let info = self.info();
        BuiltBy {
            module: info.name.clone(),
            version: info.version,
            identity: info.hash.clone(),
            upcasters: String::new(),
        }
    }

    fn event_types(&self) -> Result<Vec<String>> {
        Ok(Module::event_types(self)?.to_vec())
    }

    fn query(&self) -> Option<Query> {
        self.projection_query().cloned()
    }

    fn apply(&self, events: &[RecordedEvent], documents: &mut Box<dyn Documents>) -> Result<()> {
        let events: Vec<Event> = events.iter().map(Event::from).collect();
        Module::apply(self, &events, documents)
    }
}

/// A `refold_guest::Projection` compiled into the host, run through the same
/// `wire::apply` a component built from it runs.
pub struct NativeProjection<P> {
    name: String,
    projection: PhantomData<fn() -> P>,
}

impl<P: refold_guest::Projection> NativeProjection<P> {
    /// Native logic deployed as the projection `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NativeProjection {
            name: name.into(),
            projection: PhantomData,
        }
    }
}

impl<P: refold_guest::Projection> ProjectionLogic for NativeProjection<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn built_by(&self) -> BuiltBy {
        BuiltBy {
            module: self.name.clone(),
            version: 0,
            identity: format!("native:{}", self.name),
            upcasters: String::new(),
        }
    }

    fn event_types(&self) -> Result<Vec<String>> {
        Ok(refold_guest::wire::event_types::<P>())
    }

    fn apply(&self, events: &[RecordedEvent], documents: &mut Box<dyn Documents>) -> Result<()> {
        let events: Vec<refold_guest::Event> = events.iter().map(Into::into).collect();
        let mut documents = GuestDocuments(documents.as_mut());
        refold_guest::wire::apply::<P>(&events, &mut documents).map_err(|message| Error::Guest {
            module: self.name.clone(),
            function: "apply",
            fault: GuestFault::Reported(message),
        })
    }
}

/// The host's documents as the SDK's native `wire::apply` takes them.
struct GuestDocuments<'a>(&'a mut dyn Documents);

impl refold_guest::Documents for GuestDocuments<'_> {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        self.0.get(collection, id)
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        self.0.put(collection, id, document);
    }

    fn delete(&mut self, collection: &str, id: &str) {
        self.0.delete(collection, id);
    }
}
