//! The projection as the runner sees it: wasm module, native Rust, or a decider's
//! `evolve` alike.
//!
//! [`ProjectionLogic`] is all the runner needs: a name, an identity (a new identity
//! means a new version, rebuilt beside the old one), which events it wants, and a batch
//! `apply` against documents. A deployed [`Module`] implements it through its
//! component; [`NativeProjection`] implements it with a `refold_guest::Projection`
//! compiled into the host, through the same `wire::apply` the component runs, so a
//! benchmark can drive the same runner with both and compare.

use crate::runtime::{Event, Module};
use crate::store::{LogFilter, RecordedEvent};
use crate::{Error, GuestFault, Result};
use refold_guest::Documents;
use std::marker::PhantomData;

/// Read-side logic the projection runner can drive.
pub trait ProjectionLogic: Send + Sync {
    /// The projection's name: its documents, checkpoint and status are kept under it.
    fn name(&self) -> &str;
    /// The module whose logic this is, as status reports it.
    fn module(&self) -> &str;
    /// The version number deployed under that module name (0 for native logic).
    fn version(&self) -> u64;
    /// Identifies the logic's version: deploying logic with another identity under the
    /// same name rebuilds the read model beside the old one.
    fn identity(&self) -> &str;
    /// Which events of the global log it wants; the runner never passes it others.
    fn filter(&self) -> Result<LogFilter>;
    /// Apply `events` (one partition, in global order) to `documents`.
    fn apply(
        &self,
        events: &[RecordedEvent],
        documents: &mut Box<dyn Documents + Send>,
    ) -> Result<()>;
}

impl ProjectionLogic for Module {
    fn name(&self) -> &str {
        &self.info().name
    }

    fn module(&self) -> &str {
        &self.info().name
    }

    fn version(&self) -> u64 {
        self.info().version
    }

    fn identity(&self) -> &str {
        &self.info().hash
    }

    fn filter(&self) -> Result<LogFilter> {
        Ok(LogFilter {
            event_types: self.event_types()?.to_vec(),
            ..LogFilter::default()
        })
    }

    fn apply(
        &self,
        events: &[RecordedEvent],
        documents: &mut Box<dyn Documents + Send>,
    ) -> Result<()> {
        let events: Vec<Event> = events.iter().map(Event::from).collect();
        Module::apply(self, &events, documents)
    }
}

/// A `refold_guest::Projection` compiled into the host, run through the same
/// `wire::apply` a component built from it runs.
pub struct NativeProjection<P> {
    name: String,
    identity: String,
    projection: PhantomData<fn() -> P>,
}

impl<P: refold_guest::Projection> NativeProjection<P> {
    /// Native logic deployed as the projection `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        NativeProjection {
            identity: format!("native:{name}"),
            name,
            projection: PhantomData,
        }
    }
}

impl<P: refold_guest::Projection> ProjectionLogic for NativeProjection<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn module(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        0
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn filter(&self) -> Result<LogFilter> {
        Ok(LogFilter {
            event_types: refold_guest::wire::event_types::<P>(),
            ..LogFilter::default()
        })
    }

    fn apply(
        &self,
        events: &[RecordedEvent],
        documents: &mut Box<dyn Documents + Send>,
    ) -> Result<()> {
        let events: Vec<refold_guest::Event> = events.iter().map(Into::into).collect();
        refold_guest::wire::apply::<P>(&events, documents.as_mut()).map_err(|message| {
            Error::Guest {
                module: self.name.clone(),
                function: "apply",
                fault: GuestFault::Reported(message),
            }
        })
    }
}
