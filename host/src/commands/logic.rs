//! The decider as the command handler sees it: wasm module or native Rust alike.
//!
//! [`DeciderLogic`] is what the handler loop needs: an identity for caches and
//! snapshots, the initial state, a batch `evolve`, and `decide`. A deployed
//! [`Module`] implements it through its component; [`NativeDecider`] implements it with
//! a `refold_guest::Decider` compiled into the host, through the same `wire`
//! functions the component runs, so a benchmark can run both and compare.

use crate::runtime::{DecideError, DeciderContext, Event, Module, NewEvent};
use crate::store::RecordedEvent;
use crate::{Error, GuestFault, Result};
use std::marker::PhantomData;

/// Write-side logic the command handler can drive.
pub trait DeciderLogic: Send + Sync {
    /// Identifies the logic's version: cached states and snapshots are keyed by it,
    /// so a new version never uses an old one's states.
    fn identity(&self) -> &str;
    /// The name commands and errors refer to.
    fn name(&self) -> &str;
    /// The version number deployed under that name (0 for native logic).
    fn version(&self) -> u64;
    /// The encoded state of a stream with no events.
    fn initial_state(&self) -> Result<Vec<u8>>;
    /// Fold `events` into `state`.
    fn evolve(&self, state: &[u8], events: &[RecordedEvent]) -> Result<Vec<u8>>;
    /// The events `command` produces given `state`, the state of `stream` (in
    /// `partition`) at `version`, or why not.
    fn decide(
        &self,
        stream: StreamAt<'_>,
        state: &[u8],
        command: &str,
    ) -> Result<Result<Vec<NewEvent>, DecideError>>;
    /// Refuse `command` before any decision if it does not match the schema the logic
    /// declared for its commands ([`crate::Error::CommandSchemaMismatch`]); logic that
    /// declared none takes every command to `decide`.
    fn check_command(&self, _command: &str) -> Result<()> {
        Ok(())
    }
}

/// The stream a decision is for, and the command's metadata: what the guest's
/// decider context holds (a component's random numbers are seeded by the stream).
#[derive(Debug, Clone, Copy)]
pub struct StreamAt<'a> {
    /// The stream's partition.
    pub partition: &'a str,
    /// The stream.
    pub stream: &'a str,
    /// The version of the state decided on.
    pub version: u64,
    /// The command's metadata: a JSON object, as text.
    pub metadata: &'a str,
}

impl StreamAt<'_> {
    /// The decider context of the WIT contract.
    fn context(&self) -> DeciderContext {
        DeciderContext {
            stream_id: Some(self.stream.to_owned()),
            partition: self.partition.to_owned(),
            version: self.version,
            metadata: self.metadata.to_owned(),
        }
    }
}

/// A stored event as a guest call takes it: the component's `Event` (from the WIT)
/// and the SDK's `Event` (for native logic) carry the same fields.
macro_rules! event_from_recorded {
    ($target:ty) => {
        impl From<&RecordedEvent> for $target {
            fn from(event: &RecordedEvent) -> Self {
                Self {
                    event_type: event.event_type.clone(),
                    data: event.data.clone(),
                    metadata: event.metadata.clone(),
                    stream_id: event.stream.clone(),
                    stream_position: event.stream_position,
                    global_position: event.global_position,
                    event_id: event.id.to_string(),
                    recorded_at: event.recorded_at.clone(),
                    partition: event.partition.clone(),
                    tags: event.tags.clone(),
                }
            }
        }
    };
}

event_from_recorded!(Event);
event_from_recorded!(refold_guest::Event);

impl DeciderLogic for Module {
    fn identity(&self) -> &str {
        &self.info().hash
    }

    fn check_command(&self, command: &str) -> Result<()> {
        Module::check_command(self, command)
    }

    fn name(&self) -> &str {
        &self.info().name
    }

    fn version(&self) -> u64 {
        self.info().version
    }

    fn initial_state(&self) -> Result<Vec<u8>> {
        Module::initial_state(self)
    }

    fn evolve(&self, state: &[u8], events: &[RecordedEvent]) -> Result<Vec<u8>> {
        let events: Vec<Event> = events.iter().map(Event::from).collect();
        Module::evolve(self, state, &events)
    }

    fn decide(
        &self,
        stream: StreamAt<'_>,
        state: &[u8],
        command: &str,
    ) -> Result<Result<Vec<NewEvent>, DecideError>> {
        Module::decide_in(self, &stream.context(), state, command)
    }
}

/// A `refold_guest::Decider` compiled into the host, run through the same `wire`
/// functions a component built from it runs.
pub struct NativeDecider<D> {
    name: String,
    identity: String,
    decider: PhantomData<fn() -> D>,
}

impl<D: refold_guest::Decider> NativeDecider<D> {
    /// Native logic known as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        NativeDecider {
            identity: format!("native:{name}"),
            name,
            decider: PhantomData,
        }
    }
}

impl<D: refold_guest::Decider> DeciderLogic for NativeDecider<D> {
    fn identity(&self) -> &str {
        &self.identity
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        0
    }

    fn initial_state(&self) -> Result<Vec<u8>> {
        Ok(refold_guest::wire::initial_state::<D>())
    }

    fn evolve(&self, state: &[u8], events: &[RecordedEvent]) -> Result<Vec<u8>> {
        let events: Vec<refold_guest::Event> = events.iter().map(Into::into).collect();
        refold_guest::wire::evolve::<D>(state, &events).map_err(|message| Error::Guest {
            module: self.name.clone(),
            function: "evolve",
            fault: GuestFault::Reported(message),
        })
    }

    fn decide(
        &self,
        stream: StreamAt<'_>,
        state: &[u8],
        command: &str,
    ) -> Result<Result<Vec<NewEvent>, DecideError>> {
        let context = stream.context();
        let context = refold_guest::Context {
            stream_id: context.stream_id,
            partition: context.partition,
            version: context.version,
            metadata: context.metadata,
        };
        Ok(refold_guest::wire::decide::<D>(&context, state, command)
            .map(|events| {
                events
                    .into_iter()
                    .map(|e| NewEvent {
                        event_type: e.event_type,
                        data: e.data,
                        metadata: e.metadata,
                        stream_id: e.stream_id,
                        tags: e.tags,
                    })
                    .collect()
            })
            .map_err(|error| match error {
                refold_guest::DecideError::Rejected(m) => DecideError::Rejected(m),
                refold_guest::DecideError::InvalidCommand(m) => DecideError::InvalidCommand(m),
            }))
    }
}
