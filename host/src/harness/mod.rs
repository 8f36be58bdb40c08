//! Given/when/then tests for guest modules, from Rust and from spec files.
//!
//! A guest's rules are best pinned down as examples: *given* these events, *when* this
//! command arrives, *then* these events follow (or this rejection); for a projection,
//! *given* these events, *then* these documents exist. The harness runs such examples
//! against the real component, through the same [`Runtime`] the engine uses (same
//! sandbox, same limits), so a spec that passes here describes the module as deployed.
//! Because the examples are data, the same [`SpecFile`]s test a module built from any
//! language.
//!
//! - [`ModuleUnderTest`] is a loaded component plus what the harness needs to load it
//!   again (the determinism check folds on a fresh instance).
//! - [`DeciderSpec`] and [`ProjectionSpec`] are the Rust API; each run returns a
//!   [`Verdict`]: the field-level differences, none when the case passed.
//! - [`Rules`] says how strictly expected values are compared ([`matching`]).
//! - [`SpecFile`] reads the YAML format and runs its cases ([`spec`]).
//!
//! ```no_run
//! use refold::harness::{DeciderSpec, GivenEvent, ModuleUnderTest};
//! use refold::runtime::{Runtime, RuntimeConfig};
//! use serde_json::json;
//!
//! # fn main() -> refold::harness::Result<()> {
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let cart = ModuleUnderTest::load_file(&runtime, "cart", "cart.wasm".as_ref())?;
//! DeciderSpec::new(&cart)
//!     .given([GivenEvent::new("CartOpened", json!({"cartId": "cart-0"}))])
//!     .when(json!({"type": "ConfirmCart", "data": {"cartId": "cart-0"}}))
//!     .then_rejection_containing("empty")?
//!     .assert_passed();
//! # Ok(())
//! # }
//! ```

mod decider;
mod error;
mod location;
pub mod matching;
mod projection;
pub mod spec;
mod upcaster;

pub use decider::{DeciderCase, DeciderExpectation, DeciderSpec, DeciderWorld, ExpectedEvent};
pub use error::{Error, Result};
pub use matching::{IgnorePath, Mode, Rules};
pub use projection::{ExpectedDocuments, ProjectionSpec, ProjectionWorld};
pub use spec::{CaseReport, SpecFile};
pub use upcaster::{UpcasterSpec, UpcasterWorld};

use crate::runtime::{Event, Module, Runtime};
use crate::store::{DEFAULT_PARTITION, RecordedEvent};
use crate::upcasting::UpcasterSet;
use serde_json::Value;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The stream of a given event that names none.
pub const SPEC_STREAM: &str = "spec-stream";

/// When the first given event was recorded (2024-01-01T00:00:00Z); each next one a
/// second later.
const FIRST_RECORDED_AT: Duration = Duration::from_secs(1_704_067_200);

/// A case being written for a module of world `W` ([`DeciderWorld`] or
/// [`ProjectionWorld`]): its history and the rules of comparison, before it says what it
/// expects. [`DeciderSpec`] and [`ProjectionSpec`] name the two.
pub struct Spec<'m, 'r, W> {
    module: &'m ModuleUnderTest<'r>,
    given: Vec<GivenEvent>,
    rules: Rules,
    upcasters: Option<Arc<UpcasterSet>>,
    world: PhantomData<W>,
}

impl<'m, 'r, W> Spec<'m, 'r, W> {
    /// A case for `module` with no history, compared exactly.
    pub fn new(module: &'m ModuleUnderTest<'r>) -> Self {
        Spec {
            module,
            given: Vec::new(),
            rules: Rules::default(),
            upcasters: None,
            world: PhantomData,
        }
    }

    /// Add events to the history, in order.
    pub fn given(mut self, events: impl IntoIterator<Item = GivenEvent>) -> Self {
        self.given.extend(events);
        self
    }

    /// Compare with `rules` instead of exactly.
    pub fn matching(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Read the given events through `upcasters` (upcaster modules, as the engine
    /// would with them deployed) before the module sees them: the given events are
    /// then the stored ones. Two upcasters reading one type are an error.
    pub fn through(mut self, upcasters: &[&ModuleUnderTest<'_>]) -> Result<Self> {
        let modules = upcasters
            .iter()
            .map(|upcaster| upcaster.fresh().map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        self.upcasters = Some(Arc::new(UpcasterSet::new(modules)?));
        Ok(self)
    }

    /// The given events as the module reads them: as recorded, then upcast when the
    /// case runs [`through`](Self::through) upcasters.
    fn history(&self) -> crate::Result<Vec<Event>> {
        match &self.upcasters {
            None => Ok(recorded(&self.given)),
            Some(set) => Ok(set
                .upcast(recorded_events(&self.given))?
                .iter()
                .map(Event::from)
                .collect()),
        }
    }
}

/// A component loaded for testing, with the bytes to load it again.
pub struct ModuleUnderTest<'r> {
    runtime: &'r Runtime,
    name: String,
    bytes: Vec<u8>,
    module: Module,
}

impl<'r> ModuleUnderTest<'r> {
    /// Load the component in `bytes` as `name` through `runtime`.
    pub fn load(runtime: &'r Runtime, name: &str, bytes: Vec<u8>) -> Result<Self> {
        let module = runtime.load(name, &bytes)?;
        Ok(ModuleUnderTest {
            runtime,
            name: name.to_owned(),
            bytes,
            module,
        })
    }

    /// [`load`](Self::load) from a file.
    pub fn load_file(runtime: &'r Runtime, name: &str, path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| crate::Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::load(runtime, name, bytes)
    }

    /// The loaded module, warm after the cases that ran on it.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The same component loaded again: a new module with no warm instance.
    fn fresh(&self) -> Result<Module> {
        Ok(self.runtime.load(&self.name, &self.bytes)?)
    }
}

/// An event of a case's history, as a spec writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenEvent {
    event_type: String,
    data: Value,
    metadata: Value,
    stream: String,
    partition: String,
    tags: Vec<String>,
}

impl GivenEvent {
    /// An event of `event_type` with `data` (a JSON object), in [`SPEC_STREAM`] of the
    /// default partition, with no metadata.
    pub fn new(event_type: &str, data: Value) -> GivenEvent {
        GivenEvent {
            event_type: event_type.to_owned(),
            data,
            metadata: Value::Object(Default::default()),
            stream: SPEC_STREAM.to_owned(),
            partition: DEFAULT_PARTITION.to_owned(),
            tags: Vec::new(),
        }
    }

    /// The same event in another stream.
    pub fn in_stream(mut self, stream: &str) -> GivenEvent {
        self.stream = stream.to_owned();
        self
    }

    /// The same event with `metadata` (a JSON object).
    pub fn with_metadata(mut self, metadata: Value) -> GivenEvent {
        self.metadata = metadata;
        self
    }

    /// The same event in another partition.
    pub fn in_partition(mut self, partition: &str) -> GivenEvent {
        self.partition = partition.to_owned();
        self
    }

    /// The same event carrying `tags`, which a query decider's query matches.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> GivenEvent {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// [`recorded`] as the store's values, for upcasting.
fn recorded_events(given: &[GivenEvent]) -> Vec<RecordedEvent> {
    recorded(given)
        .into_iter()
        .zip(1u128..)
        .map(|(event, position)| RecordedEvent {
            global_position: event.global_position,
            partition: event.partition,
            stream: event.stream_id,
            stream_position: event.stream_position,
            id: uuid::Uuid::from_u128(position),
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            recorded_at: event.recorded_at,
            tags: event.tags,
        })
        .collect()
}

/// The given events as the store would have recorded them, in order: global
/// positions 1..n, stream positions counted per stream, ids and times made from the
/// global position, so every run sees the same events.
fn recorded(given: &[GivenEvent]) -> Vec<Event> {
    let mut versions: HashMap<(&str, &str), u64> = HashMap::new();
    (1u64..)
        .zip(given)
        .map(|(position, event)| {
            let version = versions
                .entry((&event.partition, &event.stream))
                .or_default();
            *version += 1;
            Event {
                event_type: event.event_type.clone(),
                data: event.data.to_string(),
                metadata: event.metadata.to_string(),
                stream_id: event.stream.clone(),
                stream_position: *version,
                global_position: position,
                event_id: uuid::Uuid::from_u128(u128::from(position)).to_string(),
                recorded_at: humantime::format_rfc3339_millis(
                    UNIX_EPOCH + FIRST_RECORDED_AT + Duration::from_secs(position - 1),
                )
                .to_string(),
                partition: event.partition.clone(),
                tags: event.tags.clone(),
            }
        })
        .collect()
}

/// The outcome of one case: what differed from the expectation, nothing when it passed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use = "a verdict says whether the case passed"]
pub struct Verdict {
    differences: Vec<String>,
    fault: Option<usize>,
}

impl Verdict {
    /// Whether the module did what the case expects.
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }

    /// One line per difference, naming the field: `events[0].data.total: expected
    /// 3026, got 3025`. A guest fault is one of them, on one line.
    pub fn differences(&self) -> &[String] {
        &self.differences
    }

    /// The first guest fault (a trap, the deadline, the memory cap, an error the guest
    /// reported) that stopped the case, summarised on one line: `when: module 'faulty'
    /// failed in decide: trapped: ...`. It is also among the
    /// [`differences`](Self::differences).
    pub fn fault(&self) -> Option<&str> {
        self.fault.map(|index| self.differences[index].as_str())
    }

    /// Panic with the differences unless the case passed: for Rust tests.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            self.passed(),
            "the case failed:\n  {}",
            self.differences.join("\n  ")
        );
    }

    fn push(&mut self, difference: String) {
        self.differences.push(difference);
    }

    fn push_fault(&mut self, fault: String) {
        self.fault.get_or_insert(self.differences.len());
        self.differences.push(fault);
    }
}

/// A guest fault becomes a difference (`what: <error>`, on one line); any other error
/// stops the run.
fn fault_or_error<T>(
    result: crate::Result<T>,
    what: &str,
    verdict: &mut Verdict,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error @ crate::Error::Guest { .. }) => {
            verdict.push_fault(one_line(&format!("{what}: {error}")));
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// `text` on one line: what a guest wrote to stderr with its trap (a panic message,
/// say) spans lines. Rust's hint to set `RUST_BACKTRACE`, which a guest cannot use, is
/// left out.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// JSON text a module returned, as a value; text that is not JSON stays a string so
/// the difference shows it.
fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
