//! Upcaster cases: given stored events, then the events readers see.
//!
//! The upcaster runs as the engine runs it, in an [`UpcasterSet`] of its own: events of
//! types it does not read pass through unchanged, each upcast event keeps its stored
//! event's positions and carries `refold.upcastFrom` in its metadata. Its answer is
//! checked to be the same on a second call.

use super::decider::ExpectedEvent;
use super::{Result, Spec, Verdict, fault_or_error, parse_json, recorded_events};
use crate::store::RecordedEvent;
use crate::upcasting::UpcasterSet;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An upcaster case being written: [`Spec`] for a module of the upcaster world.
pub type UpcasterSpec<'m, 'r> = Spec<'m, 'r, UpcasterWorld>;

/// The world of [`UpcasterSpec`].
#[derive(Debug, Clone, Copy)]
pub struct UpcasterWorld;

impl UpcasterSpec<'_, '_> {
    /// Run the case: the given events, as stored, read through the upcaster, expecting
    /// exactly `expected` (in order). Metadata is compared only where an expected
    /// event gives it. Differences, guest faults included, are in the verdict; an error
    /// means the case could not run (e.g. the module is not an upcaster).
    pub fn then_events(self, expected: impl IntoIterator<Item = ExpectedEvent>) -> Result<Verdict> {
        let expected: Vec<ExpectedEvent> = expected.into_iter().collect();
        let set = Arc::new(UpcasterSet::new(vec![Arc::new(self.module.fresh()?)])?);
        let stored = recorded_events(&self.given);
        let mut verdict = Verdict::default();
        let Some(actual) = fault_or_error(set.upcast(stored.clone()), "upcast", &mut verdict)?
        else {
            return Ok(verdict);
        };
        if expected.len() != actual.len() {
            verdict.push(format!(
                "events: expected {} [{}], got {} [{}]",
                expected.len(),
                expected
                    .iter()
                    .map(ExpectedEvent::event_type)
                    .collect::<Vec<_>>()
                    .join(", "),
                actual.len(),
                actual
                    .iter()
                    .map(|e| e.event_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            for (index, (expected, actual)) in expected.iter().zip(&actual).enumerate() {
                let actual = actual_value(actual, expected.expects_metadata());
                for difference in
                    self.rules
                        .diff(&format!("events[{index}]"), &expected.to_value(), &actual)
                {
                    verdict.push(difference);
                }
            }
        }
        let again = fault_or_error(set.upcast(stored), "determinism of upcast", &mut verdict)?;
        if again.is_some_and(|again| again != actual) {
            verdict.push(
                "upcast is not deterministic: the same stored events gave other events the second time — does the module keep global state?".to_owned(),
            );
        }
        Ok(verdict)
    }
}

/// An upcast event as the value compared with an expected one.
fn actual_value(event: &RecordedEvent, with_metadata: bool) -> Value {
    let mut value = Map::new();
    value.insert("type".to_owned(), Value::String(event.event_type.clone()));
    value.insert("data".to_owned(), parse_json(&event.data));
    if with_metadata {
        value.insert("metadata".to_owned(), parse_json(&event.metadata));
    }
    Value::Object(value)
}
