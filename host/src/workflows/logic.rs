//! The workflow as projection logic: what the projection runner calls for each batch
//! of input events, so a workflow's checkpoint, lease, fence and failure policy are
//! the projection runner's.
//!
//! For each input (an event of a type the workflow reacts to, or a timer of its own
//! come due) it finds the instance, reads the instance's stream, folds the steps of
//! earlier inputs into the state, and then takes the input's steps in turn: a step
//! already in the stream (written before a crash) is taken as written, a missing one
//! is asked of the guest and appended. Every command a step sends goes through the
//! command handler under its derived id, so a command sent again after a crash gets
//! its first outcome and is applied once; each outcome is the input of the next step.
//! Nothing here is lost or done twice whether the process dies before, between or
//! after those writes, because the checkpoint only passes an input once all of its
//! steps and commands are stored.

use super::code::WorkflowCode;
use super::record::{
    InputRecord, SentCommand, Stepped, Stored, TIMER_DUE, command_id, now_ms, stream_of,
};
use crate::commands::{CommandHandler, CommandRequest, RefoldKeys};
use crate::failpoint::Failpoint;
use crate::projections::ProjectionLogic;
use crate::runtime::{
    CommandOutcome, CommandResult, Documents, Event, Runtime, WorkflowCommand, WorkflowInput,
    WorkflowStep,
};
use crate::store::{AppendRequest, BuiltBy, Direction, EventStore, ExpectedVersion, RecordedEvent};
use crate::{Error, Result};
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::runtime::Handle;

/// Inputs per batch of the runner: the checkpoint (and the lease's renewal) comes
/// after each batch, and each input costs a few writes.
const MAX_BATCH: usize = 20;

/// The most events one instance stream is read with.
const MAX_INSTANCE_EVENTS: usize = 100_000;

/// Where the workflow's code comes from.
pub(super) enum Source {
    /// The module deployed under the workflow's name now: a hot swap applies from the
    /// next input on.
    Deployed(Arc<Runtime>),
    /// Logic compiled into the host.
    Native(Arc<dyn WorkflowCode>),
}

/// Counters of a workflow's work in this process.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Inputs handled (events and timers of the workflow's instances).
    pub(super) inputs: AtomicU64,
    /// Steps asked of the guest and written.
    pub(super) steps: AtomicU64,
    /// Commands sent (a resend after a restart counts again; it is applied once).
    pub(super) commands: AtomicU64,
}

/// A workflow, as the projection runner drives it.
pub(super) struct WorkflowLogic {
    pub(super) workflow: String,
    pub(super) projection: String,
    pub(super) source: Source,
    pub(super) events: Arc<dyn EventStore>,
    pub(super) commands: Arc<CommandHandler>,
    pub(super) handle: Handle,
    pub(super) max_steps: u64,
    pub(super) counters: Arc<Counters>,
}

/// An instance as its stream holds it before one input.
struct History {
    /// The state after the steps of earlier inputs (none: no step yet).
    state: Option<String>,
    /// Whether one of them finished the instance.
    finished: bool,
    /// Timers scheduled and not yet fired, by command id.
    timers: HashMap<String, SentCommand>,
    /// The steps of this input already written, in order.
    recorded: Vec<Stepped>,
}

impl History {
    /// Fold `stream` (an instance's events) up to the input at `position`.
    fn fold(stream: &[RecordedEvent], position: u64) -> Result<History> {
        let mut history = History {
            state: None,
            finished: false,
            timers: HashMap::new(),
            recorded: Vec::new(),
        };
        for event in stream {
            let Stored::Stepped(step) = Stored::read(event)? else {
                continue;
            };
            if step.position == position {
                history.recorded.push(*step);
            } else if step.position < position {
                history.finished |= step.finished;
                if let InputRecord::Outcome { command_id, .. } = &step.input {
                    history.timers.remove(command_id);
                }
                for command in &step.commands {
                    if command.due_at_ms.is_some() {
                        history.timers.insert(command.id.clone(), command.clone());
                    }
                }
                history.state = Some(step.state.get().to_owned());
            }
        }
        history.recorded.sort_by_key(|step| step.step);
        Ok(history)
    }
}

impl WorkflowLogic {
    fn code(&self) -> Result<Arc<dyn WorkflowCode>> {
        match &self.source {
            Source::Deployed(runtime) => Ok(runtime.module(&self.workflow)?),
            Source::Native(code) => Ok(code.clone()),
        }
    }

    /// Handle one input event: all of its steps, and every command they send.
    fn react(&self, code: &dyn WorkflowCode, event: &RecordedEvent) -> Result<()> {
        let (instance, timer) = if event.event_type == TIMER_DUE {
            match Stored::read(event)? {
                Stored::TimerDue(due) if due.workflow == self.workflow => {
                    (due.instance, Some(due.timer))
                }
                _ => return Ok(()),
            }
        } else {
            match code.instance_of(&Event::from(event))? {
                Some(instance) => (instance, None),
                None => return Ok(()),
            }
        };
        let partition = event.partition.as_str();
        let stream = stream_of(&self.workflow, &instance);
        let stored = self.handle.block_on(self.events.read_stream(
            partition,
            &stream,
            1,
            Direction::Forward,
            MAX_INSTANCE_EVENTS,
        ))?;
        let history = History::fold(&stored, event.global_position)?;
        if history.finished {
            return Ok(());
        }
        self.counters.inputs.fetch_add(1, Ordering::Relaxed);
        let first = match &timer {
            None => (WorkflowInput::Event(Event::from(event)), None),
            Some(id) => match history.timers.get(id) {
                Some(command) => (
                    WorkflowInput::Outcome(self.send(partition, command, event)?),
                    Some(id.clone()),
                ),
                // Fired already: a timer's event appended twice is stored once, but a
                // step may have handled it before a crash.
                None => return Ok(()),
            },
        };
        let mut state = match history.state {
            Some(state) => state,
            None => code.initial_state()?,
        };
        let mut queue = VecDeque::from([first]);
        let mut recorded = history.recorded.into_iter();
        let mut step = 0;
        while let Some((input, sent)) = queue.pop_front() {
            if step >= self.max_steps {
                return Err(Error::Workflow {
                    workflow: self.workflow.clone(),
                    message: format!(
                        "the {} at global position {} set off more than {} steps in instance '{instance}': do its commands and outcomes loop?",
                        event.event_type, event.global_position, self.max_steps
                    ),
                });
            }
            let done = match recorded.next() {
                Some(done) => done,
                None => {
                    let decided = code.handle(&instance, &state, &input)?;
                    let at = Position {
                        partition,
                        stream: &stream,
                        instance: &instance,
                        position: event.global_position,
                        step,
                    };
                    self.record(&at, code.version(), input_record(&input, sent), decided)?
                }
            };
            state = done.state.get().to_owned();
            for command in done.commands.iter().filter(|c| c.due_at_ms.is_none()) {
                let outcome = self.send(partition, command, event)?;
                queue.push_back((WorkflowInput::Outcome(outcome), Some(command.id.clone())));
            }
            step += 1;
            if done.finished {
                break;
            }
        }
        Ok(())
    }

    /// Write the step the guest decided at `at`, for `input`.
    fn record(
        &self,
        at: &Position<'_>,
        version: u64,
        input: InputRecord,
        decided: WorkflowStep,
    ) -> Result<Stepped> {
        let now = now_ms();
        let raw = |text: String| {
            RawValue::from_string(text).map_err(|error| Error::Workflow {
                workflow: self.workflow.clone(),
                message: format!("the guest's JSON cannot be kept: {error}"),
            })
        };
        let commands = (0u64..)
            .zip(decided.commands)
            .map(|(index, command)| {
                Ok(SentCommand {
                    id: command_id(
                        &self.workflow,
                        at.partition,
                        at.instance,
                        at.position,
                        at.step,
                        index,
                    ),
                    decider: command.decider,
                    stream: command.stream_id,
                    command: raw(command.command)?,
                    delay_ms: command.delay_ms,
                    due_at_ms: command.delay_ms.map(|delay| now.saturating_add(delay)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let stepped = Stepped {
            workflow: self.workflow.clone(),
            instance: at.instance.to_owned(),
            version,
            position: at.position,
            step: at.step,
            input,
            state: raw(decided.state)?,
            commands,
            finished: decided.finished,
        };
        let request = AppendRequest {
            partition: at.partition.to_owned(),
            stream: at.stream.to_owned(),
            expected: ExpectedVersion::Any,
            events: vec![stepped.to_event(at.partition)],
        };
        self.handle.block_on(self.events.append(request))?;
        self.counters.steps.fetch_add(1, Ordering::Relaxed);
        Failpoint::WorkflowAfterStep.reached();
        Ok(stepped)
    }

    /// Send `command` under its id (caused by `cause`) and say what became of it: a
    /// rejection is an outcome, any other error the input's failure.
    fn send(
        &self,
        partition: &str,
        command: &SentCommand,
        cause: &RecordedEvent,
    ) -> Result<CommandOutcome> {
        let keys = RefoldKeys {
            command_id: Some(command.id.clone()),
            causation_id: Some(cause.id.to_string()),
            ..RefoldKeys::default()
        };
        let text = command.command.get();
        let request = match &command.stream {
            Some(stream) => CommandRequest::new(stream.clone(), text),
            None => CommandRequest::query(text),
        }
        .in_partition(partition)
        .with_keys(keys);
        let handled = self.handle.block_on(async {
            match &command.stream {
                Some(_) => {
                    self.commands
                        .handle_request(&command.decider, request)
                        .await
                }
                None => {
                    self.commands
                        .handle_query_request(&command.decider, request)
                        .await
                }
            }
        });
        let result = match handled {
            Ok(outcome) => {
                CommandResult::Accepted(outcome.events.iter().map(Event::from).collect())
            }
            Err(Error::Rejected { message, .. }) => CommandResult::Rejected(message),
            Err(Error::InvalidCommand { message, .. }) => {
                CommandResult::Rejected(format!("invalid command: {message}"))
            }
            Err(other) => return Err(other),
        };
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        Failpoint::WorkflowAfterCommand.reached();
        Ok(CommandOutcome {
            command: WorkflowCommand {
                decider: command.decider.clone(),
                stream_id: command.stream.clone(),
                command: text.to_owned(),
                delay_ms: command.delay_ms,
            },
            reply: result,
        })
    }
}

/// Where a step is written: its instance and its key.
struct Position<'a> {
    partition: &'a str,
    stream: &'a str,
    instance: &'a str,
    position: u64,
    step: u64,
}

/// What the step's record says it handled: `input`, the outcome of the command sent
/// as `sent` when it is one.
fn input_record(input: &WorkflowInput, sent: Option<String>) -> InputRecord {
    match input {
        WorkflowInput::Event(event) => InputRecord::Event {
            event_type: event.event_type.clone(),
            stream: event.stream_id.clone(),
            event_id: event.event_id.clone(),
        },
        WorkflowInput::Outcome(outcome) => {
            let command_id = sent.unwrap_or_default();
            let (accepted, rejected) = match &outcome.reply {
                CommandResult::Accepted(events) => (
                    Some(events.iter().map(|e| e.event_type.clone()).collect()),
                    None,
                ),
                CommandResult::Rejected(reason) => (None, Some(reason.clone())),
            };
            InputRecord::Outcome {
                command_id,
                accepted,
                rejected,
            }
        }
    }
}

impl ProjectionLogic for WorkflowLogic {
    fn name(&self) -> &str {
        &self.projection
    }

    fn built_by(&self) -> BuiltBy {
        BuiltBy {
            module: self.workflow.clone(),
            version: self.code().map_or(0, |code| code.version()),
            identity: self.projection.clone(),
            upcasters: String::new(),
        }
    }

    fn event_types(&self) -> Result<Vec<String>> {
        let mut types = self.code()?.event_types()?;
        types.push(TIMER_DUE.to_owned());
        Ok(types)
    }

    /// Each input writes its steps and sends its commands, each a write of its own:
    /// batches of `MAX_BATCH` commit well within the lease.
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn apply(&self, events: &[RecordedEvent], _: &mut Box<dyn Documents>) -> Result<()> {
        let code = self.code()?;
        for event in events {
            self.react(code.as_ref(), event)?;
        }
        Ok(())
    }
}
