//! The workflow as the runner sees it: a wasm module or native Rust alike.
//!
//! [`WorkflowCode`] is the four functions of the WIT `workflow` interface. A deployed
//! [`Module`] implements it through its component; [`NativeWorkflow`] implements it
//! with a `refold_guest::Workflow` compiled into the host, through the same `wire`
//! functions the component runs, so a benchmark can drive the same runner with both.

use crate::runtime::{
    CommandOutcome, CommandResult, Event, Module, WorkflowCommand, WorkflowInput, WorkflowStep,
};
use crate::{Error, GuestFault, Result};
use std::marker::PhantomData;

/// Workflow logic the runner can drive.
pub trait WorkflowCode: Send + Sync {
    /// The name errors refer to.
    fn name(&self) -> &str;
    /// The version number deployed under that name (0 for native logic).
    fn version(&self) -> u64;
    /// The event types it reacts to.
    fn event_types(&self) -> Result<Vec<String>>;
    /// An instance's state before its first input (JSON text).
    fn initial_state(&self) -> Result<String>;
    /// The instance `event` belongs to, if any.
    fn instance_of(&self, event: &Event) -> Result<Option<String>>;
    /// What `instance` in `state` does with `input`.
    fn handle(&self, instance: &str, state: &str, input: &WorkflowInput) -> Result<WorkflowStep>;
}

impl WorkflowCode for Module {
    fn name(&self) -> &str {
        &self.info().name
    }

    fn version(&self) -> u64 {
        self.info().version
    }

    fn event_types(&self) -> Result<Vec<String>> {
        Ok(Module::event_types(self)?.to_vec())
    }

    fn initial_state(&self) -> Result<String> {
        self.workflow_initial_state()
    }

    fn instance_of(&self, event: &Event) -> Result<Option<String>> {
        Module::instance_of(self, event)
    }

    fn handle(&self, instance: &str, state: &str, input: &WorkflowInput) -> Result<WorkflowStep> {
        Module::handle(self, instance, state, input)
    }
}

/// A `refold_guest::Workflow` compiled into the host, run through the same `wire`
/// functions a component built from it runs.
pub struct NativeWorkflow<W> {
    name: String,
    workflow: PhantomData<fn() -> W>,
}

impl<W: refold_guest::Workflow> NativeWorkflow<W> {
    /// Native logic run as the workflow `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NativeWorkflow {
            name: name.into(),
            workflow: PhantomData,
        }
    }

    fn reported(&self, function: &'static str, message: String) -> Error {
        Error::Guest {
            module: self.name.clone(),
            function,
            fault: GuestFault::Reported(message),
        }
    }
}

impl<W: refold_guest::Workflow> WorkflowCode for NativeWorkflow<W> {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        0
    }

    fn event_types(&self) -> Result<Vec<String>> {
        Ok(refold_guest::wire::workflow_event_types::<W>())
    }

    fn initial_state(&self) -> Result<String> {
        Ok(refold_guest::wire::workflow_initial_state::<W>())
    }

    fn instance_of(&self, event: &Event) -> Result<Option<String>> {
        refold_guest::wire::instance_of::<W>(&guest_event(event))
            .map_err(|message| self.reported("instance-of", message))
    }

    fn handle(&self, instance: &str, state: &str, input: &WorkflowInput) -> Result<WorkflowStep> {
        let input = match input {
            WorkflowInput::Event(event) => refold_guest::WorkflowInput::Event(guest_event(event)),
            WorkflowInput::Outcome(outcome) => {
                refold_guest::WorkflowInput::Outcome(guest_outcome(outcome))
            }
        };
        let step = refold_guest::wire::handle::<W>(instance, state, input)
            .map_err(|message| self.reported("handle", message))?;
        Ok(WorkflowStep {
            state: step.state,
            commands: step
                .commands
                .into_iter()
                .map(|c| WorkflowCommand {
                    decider: c.decider,
                    stream_id: c.stream_id,
                    command: c.command,
                    delay_ms: c.delay_ms,
                })
                .collect(),
            finished: step.finished,
        })
    }
}

fn guest_event(event: &Event) -> refold_guest::Event {
    refold_guest::Event {
        event_type: event.event_type.clone(),
        data: event.data.clone(),
        metadata: event.metadata.clone(),
        stream_id: event.stream_id.clone(),
        stream_position: event.stream_position,
        global_position: event.global_position,
        event_id: event.event_id.clone(),
        recorded_at: event.recorded_at.clone(),
        partition: event.partition.clone(),
        tags: event.tags.clone(),
    }
}

fn guest_outcome(outcome: &CommandOutcome) -> refold_guest::Outcome {
    refold_guest::Outcome {
        command: refold_guest::SendCommand {
            decider: outcome.command.decider.clone(),
            stream_id: outcome.command.stream_id.clone(),
            command: outcome.command.command.clone(),
            delay_ms: outcome.command.delay_ms,
        },
        result: match &outcome.reply {
            CommandResult::Accepted(events) => Ok(events.iter().map(guest_event).collect()),
            CommandResult::Rejected(reason) => Err(reason.clone()),
        },
    }
}
