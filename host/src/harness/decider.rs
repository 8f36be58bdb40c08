//! Given events → when a command → then events or a rejection, for decider modules.
//!
//! A case runs the way the command handler does: the given events are folded with the
//! module's `evolve` in one batch, then `decide` answers the command. Every case also
//! checks that `evolve` and `decide` are deterministic: run again on a fresh instance
//! and on the warm one, each must give the same bytes, because the engine caches and
//! snapshots states, rebuilds them on whichever instance is free, and retries a
//! decision after a conflict: a module whose answers depend on what an instance did
//! before gives different answers in production than in tests.

use super::Result;
use super::{ModuleUnderTest, Rules, Spec, Verdict, fault_or_error, parse_json};
use crate::runtime::{DecideError, Event, Module, NewEvent};
use serde_json::{Map, Value};

/// A decider case being written: the history and the rules, before the command.
pub type DeciderSpec<'m, 'r> = Spec<'m, 'r, DeciderWorld>;

/// Marks a [`Spec`] for a decider module.
#[derive(Debug, Clone, Copy)]
pub struct DeciderWorld;

/// A decider case with its command, ready to run against an expectation.
pub struct DeciderCase<'m, 'r> {
    spec: DeciderSpec<'m, 'r>,
    command: Value,
}

/// What a decider case expects `decide` to answer.
#[derive(Debug, Clone, PartialEq)]
pub enum DeciderExpectation {
    /// These events, in this order (none is a valid expectation).
    Events(Vec<ExpectedEvent>),
    /// A rejection; with a text, one whose message contains it.
    Rejection(Option<String>),
}

/// An event a case expects `decide` to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedEvent {
    event_type: String,
    data: Option<Value>,
    metadata: Option<Value>,
}

impl ExpectedEvent {
    /// An event of `event_type` with `data`, and no metadata.
    pub fn new(event_type: &str, data: Value) -> ExpectedEvent {
        ExpectedEvent {
            data: Some(data),
            ..ExpectedEvent::of_type(event_type)
        }
    }

    /// An event of `event_type` whose data is left out: with
    /// [`Mode::Partial`](super::Mode::Partial) any data matches.
    pub fn of_type(event_type: &str) -> ExpectedEvent {
        ExpectedEvent {
            event_type: event_type.to_owned(),
            data: None,
            metadata: None,
        }
    }

    /// The same event, also expecting `metadata`.
    pub fn with_metadata(mut self, metadata: Value) -> ExpectedEvent {
        self.metadata = Some(metadata);
        self
    }

    /// Its type.
    pub(super) fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Whether metadata is expected.
    pub(super) fn expects_metadata(&self) -> bool {
        self.metadata.is_some()
    }

    /// The event as the value compared with an actual one: `type`, then `data` and
    /// `metadata` when expected.
    pub(super) fn to_value(&self) -> Value {
        let mut event = Map::new();
        event.insert("type".to_owned(), Value::String(self.event_type.clone()));
        if let Some(data) = &self.data {
            event.insert("data".to_owned(), data.clone());
        }
        if let Some(metadata) = &self.metadata {
            event.insert("metadata".to_owned(), metadata.clone());
        }
        Value::Object(event)
    }
}

/// An event `decide` produced, as the value compared with an expected one.
fn actual_value(event: &NewEvent) -> Value {
    let mut value = Map::new();
    value.insert("type".to_owned(), Value::String(event.event_type.clone()));
    value.insert("data".to_owned(), parse_json(&event.data));
    if let Some(metadata) = &event.metadata {
        value.insert("metadata".to_owned(), parse_json(metadata));
    }
    Value::Object(value)
}

impl<'m, 'r> DeciderSpec<'m, 'r> {
    /// The command (a JSON object such as `{"type": "OpenCart", "data": {...}}`).
    pub fn when(self, command: Value) -> DeciderCase<'m, 'r> {
        DeciderCase {
            spec: self,
            command,
        }
    }
}

impl DeciderCase<'_, '_> {
    /// Compare with `rules` instead of exactly.
    pub fn matching(mut self, rules: Rules) -> Self {
        self.spec.rules = rules;
        self
    }

    /// Run the case, expecting exactly `events` (in order; none is fine).
    pub fn then_events(self, events: impl IntoIterator<Item = ExpectedEvent>) -> Result<Verdict> {
        self.then(&DeciderExpectation::Events(events.into_iter().collect()))
    }

    /// Run the case, expecting any rejection.
    pub fn then_rejection(self) -> Result<Verdict> {
        self.then(&DeciderExpectation::Rejection(None))
    }

    /// Run the case, expecting a rejection whose message contains `text`.
    pub fn then_rejection_containing(self, text: &str) -> Result<Verdict> {
        self.then(&DeciderExpectation::Rejection(Some(text.to_owned())))
    }

    /// Run the case against `expected`. Differences, guest faults included, are in
    /// the verdict; an error means the case could not run (e.g. the module is not a
    /// decider).
    pub fn then(self, expected: &DeciderExpectation) -> Result<Verdict> {
        let module = self.spec.module.module();
        let mut verdict = Verdict::default();
        let history = self.spec.history();
        let Some(events) = fault_or_error(history, "given (upcast)", &mut verdict)? else {
            return Ok(verdict);
        };
        let Some(state) = fault_or_error(fold(module, &events), "given", &mut verdict)? else {
            return Ok(verdict);
        };
        let command = self.command.to_string();
        let decided = module.decide(&state, &command);
        let fresh = self.spec.module.fresh()?;
        if let Some(decided) = fault_or_error(decided, "when", &mut verdict)? {
            compare(expected, &decided, &self.spec.rules, &mut verdict);
            let again = [("fresh", &fresh), ("warm", module)];
            for (instance, module) in again {
                let what = format!("determinism of decide ({instance} instance)");
                let redecided = module.decide(&state, &command);
                let Some(redecided) = fault_or_error(redecided, &what, &mut verdict)? else {
                    break;
                };
                if redecided != decided {
                    verdict.push(format!(
                        "decide is not deterministic: the same command on the same state gave other events on a {instance} instance than the first time — does the module keep global state?"
                    ));
                    break;
                }
            }
        }
        check_determinism(self.spec.module, &fresh, &events, &mut verdict)?;
        Ok(verdict)
    }
}

/// The state after `events`, folded in one `evolve` call (none for no events).
fn fold(module: &Module, events: &[Event]) -> crate::Result<Vec<u8>> {
    let initial = module.initial_state()?;
    if events.is_empty() {
        return Ok(initial);
    }
    module.evolve(&initial, events)
}

fn compare(
    expected: &DeciderExpectation,
    decided: &Result<Vec<NewEvent>, DecideError>,
    rules: &Rules,
    verdict: &mut Verdict,
) {
    match (expected, decided) {
        (DeciderExpectation::Events(expected), Ok(actual)) if expected.len() != actual.len() => {
            verdict.push(format!(
                "events: expected {} [{}], got {} [{}]",
                count(expected.len()),
                expected
                    .iter()
                    .map(|e| e.event_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                actual.len(),
                types(actual)
            ));
        }
        (DeciderExpectation::Events(expected), Ok(actual)) => {
            for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                for difference in rules.diff(
                    &format!("events[{index}]"),
                    &expected.to_value(),
                    &actual_value(actual),
                ) {
                    verdict.push(difference);
                }
            }
        }
        (DeciderExpectation::Events(expected), Err(refusal)) => verdict.push(format!(
            "events: expected {}, got {}",
            count(expected.len()),
            describe_refusal(refusal)
        )),
        (DeciderExpectation::Rejection(containing), Ok(actual)) => verdict.push(format!(
            "rejection: expected {}, got events [{}]",
            describe_rejection(containing.as_deref()),
            types(actual)
        )),
        (DeciderExpectation::Rejection(Some(text)), Err(DecideError::Rejected(message)))
            if !message.contains(text.as_str()) =>
        {
            verdict.push(format!(
                "rejection: expected {}, got {message:?}",
                describe_rejection(Some(text))
            ));
        }
        (DeciderExpectation::Rejection(_), Err(DecideError::Rejected(_))) => {}
        (DeciderExpectation::Rejection(containing), Err(invalid)) => verdict.push(format!(
            "rejection: expected {}, got {}",
            describe_rejection(containing.as_deref()),
            describe_refusal(invalid)
        )),
    }
}

fn count(events: usize) -> String {
    match events {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    }
}

fn types(events: &[NewEvent]) -> String {
    events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_rejection(containing: Option<&str>) -> String {
    match containing {
        Some(text) => format!("a rejection containing {text:?}"),
        None => "a rejection".to_owned(),
    }
}

fn describe_refusal(refusal: &DecideError) -> String {
    match refusal {
        DecideError::Rejected(message) => format!("a rejection: {message:?}"),
        DecideError::InvalidCommand(message) => format!("an invalid command: {message:?}"),
    }
}

/// Fold the given events on `fresh` (the module loaded again) and again on the (now
/// warm) module: the states must be equal byte for byte.
fn check_determinism(
    module: &ModuleUnderTest<'_>,
    fresh: &Module,
    events: &[Event],
    verdict: &mut Verdict,
) -> Result<()> {
    let fresh = fold(fresh, events);
    let Some(fresh) = fault_or_error(fresh, "determinism (fresh instance)", verdict)? else {
        return Ok(());
    };
    let warm = fold(module.module(), events);
    let Some(warm) = fault_or_error(warm, "determinism (warm instance)", verdict)? else {
        return Ok(());
    };
    if fresh != warm {
        verdict.push(format!(
            "evolve is not deterministic: folding the given events on a fresh instance and on a warm one gave different states ({} vs {} bytes) — does the module keep global state?",
            fresh.len(),
            warm.len()
        ));
    }
    Ok(())
}
