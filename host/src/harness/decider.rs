//! Given events → when a command → then events or a rejection, for decider modules.
//!
//! A case runs the way the command handler does: the given events are folded with the
//! module's `evolve` in one batch, then `decide` answers the command. For a query
//! decider the module first says which query the command depends on (`query-for`),
//! and only the given events of the default partition that the query matches are
//! folded; `decide`'s context then names no stream and the position of the last of
//! them, and the decided events name their stream and tags, which a case may expect. Every case also
//! checks that `evolve` and `decide` are deterministic: run again on a fresh instance
//! and on the warm one, each must give the same bytes, because the engine caches and
//! snapshots states, rebuilds them on whichever instance is free, and retries a
//! decision after a conflict: a module whose answers depend on what an instance did
//! before gives different answers in production than in tests.

use super::Result;
use super::location::{Step, YamlLines, dotted, json_path_at};
use super::matching::show;
use super::{ModuleUnderTest, Rules, Spec, Verdict, fault_or_error, parse_json};
use crate::runtime::{DecideError, DeciderContext, Event, Module, NewEvent};
use crate::store::{DEFAULT_PARTITION, Query};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// A decider case being written: the history and the rules, before the command.
pub type DeciderSpec<'m, 'r> = Spec<'m, 'r, DeciderWorld>;

/// Marks a [`Spec`] for a decider module.
#[derive(Debug, Clone, Copy)]
pub struct DeciderWorld;

/// A decider case with its command, ready to run against an expectation.
pub struct DeciderCase<'m, 'r> {
    spec: DeciderSpec<'m, 'r>,
    command: Value,
    /// Where the command was written, for a case from a spec file: the file's lines
    /// and the path of its `when` from the document's root.
    written: Option<(YamlLines, Vec<Step>)>,
}

/// What a decider case expects `decide` to answer.
#[derive(Debug, Clone, PartialEq)]
pub enum DeciderExpectation {
    /// These events, in this order (none is a valid expectation).
    Events(Vec<ExpectedEvent>),
    /// A rejection; with a text, one whose message contains it.
    Rejection(Option<String>),
    /// An invalid-command answer (the module cannot read the command); with a text,
    /// one whose message contains it.
    Invalid(Option<String>),
}

/// An event a case expects `decide` to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedEvent {
    event_type: String,
    data: Option<Value>,
    metadata: Option<Value>,
    stream: Option<String>,
    tags: Option<Vec<String>>,
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
            stream: None,
            tags: None,
        }
    }

    /// The same event, also expecting `metadata`.
    pub fn with_metadata(mut self, metadata: Value) -> ExpectedEvent {
        self.metadata = Some(metadata);
        self
    }

    /// The same event, expected in `stream`: the stream a query decider names for it.
    pub fn in_stream(mut self, stream: &str) -> ExpectedEvent {
        self.stream = Some(stream.to_owned());
        self
    }

    /// The same event, expected to carry exactly `tags`, in this order.
    pub fn with_tags<S: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = S>,
    ) -> ExpectedEvent {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
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

    /// The event as the value compared with an actual one: `type`, then `data`,
    /// `metadata`, `stream` and `tags` when expected.
    pub(super) fn to_value(&self) -> Value {
        let mut event = Map::new();
        event.insert("type".to_owned(), Value::String(self.event_type.clone()));
        if let Some(data) = &self.data {
            event.insert("data".to_owned(), data.clone());
        }
        if let Some(metadata) = &self.metadata {
            event.insert("metadata".to_owned(), metadata.clone());
        }
        if let Some(stream) = &self.stream {
            event.insert("stream".to_owned(), Value::String(stream.clone()));
        }
        if let Some(tags) = &self.tags {
            event.insert("tags".to_owned(), Value::from(tags.clone()));
        }
        Value::Object(event)
    }
}

/// An event `decide` produced, as the value compared with `expected` (if there is
/// one at its position): `type` and `data`, then `metadata` and `stream` when it has
/// them, and `tags` when it has some or some are expected.
fn actual_value(event: &NewEvent, expected: Option<&ExpectedEvent>) -> Value {
    let mut value = Map::new();
    value.insert("type".to_owned(), Value::String(event.event_type.clone()));
    value.insert("data".to_owned(), parse_json(&event.data));
    if let Some(metadata) = &event.metadata {
        value.insert("metadata".to_owned(), parse_json(metadata));
    }
    if let Some(stream) = &event.stream_id {
        value.insert("stream".to_owned(), Value::String(stream.clone()));
    }
    if !event.tags.is_empty() || expected.is_some_and(|e| e.tags.is_some()) {
        value.insert("tags".to_owned(), Value::from(event.tags.clone()));
    }
    Value::Object(value)
}

impl<'m, 'r> DeciderSpec<'m, 'r> {
    /// The command (a JSON object such as `{"type": "OpenCart", "data": {...}}`).
    pub fn when(self, command: Value) -> DeciderCase<'m, 'r> {
        DeciderCase {
            spec: self,
            command,
            written: None,
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

    /// Run the case, expecting the module to answer that it cannot read the command
    /// (`decide-error::invalid-command`).
    pub fn then_invalid(self) -> Result<Verdict> {
        self.then(&DeciderExpectation::Invalid(None))
    }

    /// Run the case, expecting an invalid-command answer whose message contains `text`.
    pub fn then_invalid_containing(self, text: &str) -> Result<Verdict> {
        self.then(&DeciderExpectation::Invalid(Some(text.to_owned())))
    }

    /// The command was written at `when` (a path from the root) of the spec in
    /// `lines`: differences about it name the YAML line.
    pub(crate) fn written_at(mut self, lines: YamlLines, when: Vec<Step>) -> Self {
        self.written = Some((lines, when));
        self
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
        let command = command_text(&self.command);
        let refusal = |refusal: &DecideError| self.describe_refusal(refusal, &command);
        let mut context = DeciderContext {
            stream_id: None,
            partition: DEFAULT_PARTITION.to_owned(),
            version: 0,
            metadata: "{}".to_owned(),
        };
        let events = if module.is_query_decider() {
            let asked = module.query_for(&context.partition, &command);
            let Some(asked) = fault_or_error(asked, "when (query-for)", &mut verdict)? else {
                return Ok(verdict);
            };
            let query = match asked {
                Ok(query) => Query::from(query),
                Err(refused) => {
                    compare(
                        expected,
                        &Err(refused),
                        &self.spec.rules,
                        &refusal,
                        &mut verdict,
                    );
                    return Ok(verdict);
                }
            };
            let matching = matching(events, &query, &context.partition);
            context.version = matching.last().map_or(0, |e| e.global_position);
            matching
        } else {
            events
        };
        let Some(state) = fault_or_error(fold(module, &events), "given", &mut verdict)? else {
            return Ok(verdict);
        };
        let decided = module.decide_in(&context, &state, &command);
        let fresh = self.spec.module.fresh()?;
        if let Some(decided) = fault_or_error(decided, "when", &mut verdict)? {
            compare(expected, &decided, &self.spec.rules, &refusal, &mut verdict);
            let again = [("fresh", &fresh), ("warm", module)];
            for (instance, module) in again {
                let what = format!("determinism of decide ({instance} instance)");
                let redecided = module.decide_in(&context, &state, &command);
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

impl DeciderCase<'_, '_> {
    /// A refusal as a difference tells it: its kind, its message and, for an invalid
    /// command, where in the command (and in the spec file) the module stopped reading.
    fn describe_refusal(&self, refusal: &DecideError, command: &str) -> String {
        match refusal {
            DecideError::Rejected(message) => format!("a rejection: {message:?}"),
            DecideError::InvalidCommand(message) => {
                let (message, path) = position_in(message, command);
                let mut described = format!("an invalid command: {message:?}");
                if path.is_some() || self.written.is_some() {
                    let _ = write!(
                        described,
                        " at {}",
                        dotted("when", path.as_deref().unwrap_or_default())
                    );
                }
                let path = path.unwrap_or_default();
                if let Some((lines, when)) = &self.written {
                    let mut at = when.clone();
                    at.extend(path);
                    if let Some(line) = lines.line(&at) {
                        let _ = write!(described, " (line {line})");
                    }
                }
                described
            }
        }
    }
}

/// The command as the JSON text `decide` gets: compact, with `type` first, as clients
/// usually write it, so a guest that reads the type before the data (serde's tagged
/// enums do) names the position of a value it cannot read, not the end of the command.
fn command_text(command: &Value) -> String {
    match command {
        Value::Object(fields) if fields.contains_key("type") => {
            let mut text = format!("{{\"type\":{}", fields["type"]);
            for (key, value) in fields.iter().filter(|(key, _)| *key != "type") {
                let _ = write!(text, ",{}:{value}", Value::String(key.clone()));
            }
            text.push('}');
            text
        }
        other => other.to_string(),
    }
}

/// A guest's message about `command` without the line and column of the JSON text it
/// names (`... at line 1 column 13`, as serde_json writes them: text the spec's author
/// never saw), and the path of the value at that position.
fn position_in<'m>(message: &'m str, command: &str) -> (&'m str, Option<Vec<Step>>) {
    let Some((before, position)) = message.rsplit_once(" at line ") else {
        return (message, None);
    };
    let Some((line, column)) = position.split_once(" column ") else {
        return (message, None);
    };
    let (Ok(1), Ok(column)) = (line.parse::<usize>(), column.parse::<usize>()) else {
        return (message, None);
    };
    match json_path_at(command, column.saturating_sub(1)) {
        Some(path) => (before, Some(path)),
        None => (message, None),
    }
}

/// The events of `history` a query decider reads for a command in `partition`: those
/// in the partition that `query` matches, in order, as the command handler reads them.
fn matching(history: Vec<Event>, query: &Query, partition: &str) -> Vec<Event> {
    history
        .into_iter()
        .filter(|e| e.partition == partition && query.matches(&e.event_type, &e.tags))
        .collect()
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
    refusal: &dyn Fn(&DecideError) -> String,
    verdict: &mut Verdict,
) {
    match (expected, decided) {
        (DeciderExpectation::Events(expected), Ok(actual)) => {
            compare_events(expected, actual, rules, verdict);
        }
        (DeciderExpectation::Events(expected), Err(refused)) => verdict.push(format!(
            "events: expected {}, got {}",
            count(expected.len()),
            refusal(refused)
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
            refusal(invalid)
        )),
        (DeciderExpectation::Invalid(containing), Ok(actual)) => verdict.push(format!(
            "invalid: expected {}, got events [{}]",
            describe_invalid(containing.as_deref()),
            types(actual)
        )),
        (
            DeciderExpectation::Invalid(Some(text)),
            Err(invalid @ DecideError::InvalidCommand(message)),
        ) if !message.contains(text.as_str()) => {
            verdict.push(format!(
                "invalid: expected {}, got {}",
                describe_invalid(Some(text)),
                refusal(invalid)
            ));
        }
        (DeciderExpectation::Invalid(_), Err(DecideError::InvalidCommand(_))) => {}
        (DeciderExpectation::Invalid(containing), Err(rejected)) => verdict.push(format!(
            "invalid: expected {}, got {}",
            describe_invalid(containing.as_deref()),
            refusal(rejected)
        )),
    }
}

/// The events decided against those expected, aligned by position: the fields that
/// differ of each event on both sides, then each expected event missing and each
/// event more than expected. A different count is said first.
fn compare_events(
    expected: &[ExpectedEvent],
    actual: &[NewEvent],
    rules: &Rules,
    verdict: &mut Verdict,
) {
    if expected.len() != actual.len() {
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
    for index in 0..expected.len().max(actual.len()) {
        let label = format!("events[{index}]");
        match (expected.get(index), actual.get(index)) {
            (Some(expected), Some(actual)) => {
                let actual = actual_value(actual, Some(expected));
                for difference in rules.diff(&label, &expected.to_value(), &actual) {
                    verdict.push(difference);
                }
            }
            (Some(expected), None) => verdict.push(format!(
                "{label}: expected {}, got no event",
                shown(&expected.to_value())
            )),
            (None, Some(actual)) => verdict.push(format!(
                "{label}: expected no event, got {}",
                shown(&actual_value(actual, None))
            )),
            (None, None) => {}
        }
    }
}

/// An event (as [`ExpectedEvent::to_value`] or [`actual_value`] make it) in a line:
/// its type, then its data and metadata where it has them, each shortened when long.
fn shown(event: &Value) -> String {
    let mut text = event["type"].as_str().unwrap_or_default().to_owned();
    for part in ["data", "metadata"] {
        if let Some(value) = event.get(part) {
            let _ = write!(
                text,
                " {}{}",
                if part == "data" { "" } else { "metadata " },
                show(value)
            );
        }
    }
    text
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

fn describe_invalid(containing: Option<&str>) -> String {
    match containing {
        Some(text) => format!("an invalid command containing {text:?}"),
        None => "an invalid command".to_owned(),
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
