//! What an instance's stream holds: its steps and the timers that came due, as
//! stored events, with the ids that make each written once.
//!
//! A step (`WorkflowStepped`) records one input an instance handled (an event of the
//! log, or the outcome of a command it sent), its new state, the commands it sent
//! (each with the id it is sent under and, for a timer, when it is due) and whether it
//! finished. Steps are keyed by the global position of the log event whose handling
//! they belong to and their index in it, and their event ids are derived from that
//! key, so a step written again after a crash is the same append, stored once. A timer
//! coming due is an event too (`WorkflowTimerDue`, appended to the instance's stream
//! when its time has come), so it reaches the workflow through the log like any input,
//! in order and under the checkpoint.

use crate::commands::derived_uuid;
use crate::store::{EventData, RecordedEvent};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The type of a step's event.
pub const STEPPED: &str = "WorkflowStepped";
/// The type of the event that says a timer came due.
pub const TIMER_DUE: &str = "WorkflowTimerDue";

/// The stream of the workflow `workflow`'s instance `instance`.
pub fn stream_of(workflow: &str, instance: &str) -> String {
    format!("workflow-{workflow}-{instance}")
}

/// The tag every event of the workflow's instance streams carries.
pub fn tag_of(workflow: &str) -> String {
    format!("workflow:{workflow}")
}

/// One input an instance handled, and what it did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stepped {
    /// The workflow.
    pub workflow: String,
    /// The instance.
    pub instance: String,
    /// The version of the workflow's module that decided it (0: native logic).
    #[serde(default)]
    pub version: u64,
    /// The global position of the log event whose handling this step belongs to.
    pub position: u64,
    /// Its index among that event's steps (the first handles the event or the timer's
    /// outcome, the next the outcomes of the commands sent).
    pub step: u64,
    /// What was handled.
    pub input: InputRecord,
    /// The instance's state after it: the guest's JSON, as it wrote it.
    pub state: Box<RawValue>,
    /// The commands it sent, in order.
    pub commands: Vec<SentCommand>,
    /// Whether it finished the instance.
    pub finished: bool,
}

/// What a step handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum InputRecord {
    /// An event of the log.
    #[serde(rename_all = "camelCase")]
    Event {
        /// Its type.
        event_type: String,
        /// Its stream.
        stream: String,
        /// Its id.
        event_id: String,
    },
    /// The outcome of a command the instance sent.
    #[serde(rename_all = "camelCase")]
    Outcome {
        /// The command's id.
        command_id: String,
        /// The types of the events it appended, when accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accepted: Option<Vec<String>>,
        /// Why its decider refused it, when rejected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejected: Option<String>,
    },
}

/// A command a step sent (or scheduled).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentCommand {
    /// The id it is sent under: a resend gets the first outcome.
    pub id: String,
    /// The decider.
    pub decider: String,
    /// Its stream; none for a query decider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The command envelope, as the guest wrote it.
    pub command: Box<RawValue>,
    /// The delay the guest asked for, for a timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For a timer: when it is due, in milliseconds since the Unix epoch, by the
    /// clock of the node that ran the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at_ms: Option<u64>,
}

/// A timer that came due.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerDue {
    /// The workflow.
    pub workflow: String,
    /// The instance.
    pub instance: String,
    /// The id of the timer's command.
    pub timer: String,
    /// When it was due, in milliseconds since the Unix epoch.
    pub due_at_ms: u64,
}

impl Stepped {
    /// The step as the event appended to the instance's stream, partition
    /// `partition`: its id derived from (workflow, partition, instance, position, step).
    pub fn to_event(&self, partition: &str) -> EventData {
        EventData {
            id: derived_uuid(
                b"refold:workflow-step:1",
                &[&self.workflow, partition, &self.instance],
                &[self.position, self.step],
            ),
            event_type: STEPPED.to_owned(),
            data: serde_json::to_string(self).expect("a step encodes to JSON"),
            metadata: "{}".to_owned(),
            tags: vec![tag_of(&self.workflow)],
        }
    }
}

impl TimerDue {
    /// The event appended to the instance's stream in `partition`: its id derived from
    /// (workflow, partition, timer), so however often it is appended it is stored once.
    pub fn to_event(&self, partition: &str) -> EventData {
        EventData {
            id: derived_uuid(
                b"refold:workflow-timer:1",
                &[&self.workflow, partition, &self.timer],
                &[],
            ),
            event_type: TIMER_DUE.to_owned(),
            data: serde_json::to_string(self).expect("a timer encodes to JSON"),
            metadata: "{}".to_owned(),
            tags: vec![tag_of(&self.workflow)],
        }
    }
}

/// The id the command at `index` of step `step` of the input at `position` is sent
/// under, in `partition`: the same on every node, after any restart.
pub fn command_id(
    workflow: &str,
    partition: &str,
    instance: &str,
    position: u64,
    step: u64,
    index: u64,
) -> String {
    derived_uuid(
        b"refold:workflow-command:1",
        &[workflow, partition, instance],
        &[position, step, index],
    )
    .to_string()
}

/// A stored event of an instance stream, read back: a step, a timer come due, or
/// something else (another writer's event, ignored).
pub enum Stored {
    /// A step.
    Stepped(Box<Stepped>),
    /// A timer that came due.
    TimerDue(TimerDue),
    /// Not an event of a workflow.
    Other,
}

impl Stored {
    /// Read `event`; a step or timer whose data cannot be read is an error naming it.
    pub fn read(event: &RecordedEvent) -> Result<Stored> {
        let unreadable = |error: serde_json::Error| Error::Workflow {
            workflow: event.stream.clone(),
            message: format!(
                "the {} at position {} of {} cannot be read ({error}); it was not written by this engine",
                event.event_type, event.stream_position, event.stream
            ),
        };
        Ok(match event.event_type.as_str() {
            STEPPED => Stored::Stepped(serde_json::from_str(&event.data).map_err(unreadable)?),
            TIMER_DUE => Stored::TimerDue(serde_json::from_str(&event.data).map_err(unreadable)?),
            _ => Stored::Other,
        })
    }
}

/// Milliseconds since the Unix epoch now, by this node's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
