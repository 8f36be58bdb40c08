//! The workflow trait a guest author implements, and the values a workflow sends and
//! receives.

use crate::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A durable process: reacts to events of the log and to the outcomes of the commands
/// it sent, one instance per key (an order id, say), and sends commands to deciders.
///
/// The engine keeps each instance's inputs and outputs in a stream of its own
/// (`workflow-<name>-<instance>`), so an instance's state survives any restart; it
/// sends every command exactly once (with a command id derived from the workflow, the
/// instance and the input's position), feeds each command's outcome back to
/// [`on_outcome`](Self::on_outcome), and sends a command given a delay
/// ([`SendCommand::after_ms`]) at its time by the engine's clock, unless the instance
/// has finished by then.
///
/// `Input` is a serde enum of the events it reacts to, adjacently tagged like a
/// [`Decider`](crate::Decider)'s events; `EVENT_TYPES` names them. The state is stored
/// as JSON in the instance's stream.
///
/// ```ignore
/// impl Workflow for OrderFlow {
///     type State = Order;
///     type Input = Input; // CartConfirmed, PaymentSucceeded, ...
///     const EVENT_TYPES: &'static [&'static str] = &["CartConfirmed", "PaymentSucceeded"];
///
///     fn initial_state() -> Order { Order::default() }
///     fn instance_of(input: &Input, _: &Event) -> Option<String> { Some(input.order_id()) }
///     fn on_event(order: &str, state: Order, input: Input, _: &Event) -> Result<Step<Order>, String> {
///         Ok(Step::new(state).send(SendCommand::new("stock", format!("stock-{order}"), &reserve)))
///     }
///     fn on_outcome(order: &str, state: Order, outcome: Outcome) -> Result<Step<Order>, String> {
///         Ok(Step::new(state).finish())
///     }
/// }
///
/// refold_guest::export_workflow!(OrderFlow);
/// ```
pub trait Workflow {
    /// An instance's state; stored as JSON in the instance's stream.
    type State: Serialize + DeserializeOwned;
    /// The events it reacts to.
    type Input: DeserializeOwned;

    /// The event types it reacts to (the variants of `Input`); must not be empty.
    const EVENT_TYPES: &'static [&'static str];

    /// The state of an instance before its first input.
    fn initial_state() -> Self::State;

    /// The instance `input` belongs to, or none to ignore it. `envelope` is the event
    /// with its stream, positions and metadata.
    fn instance_of(input: &Self::Input, envelope: &Event) -> Option<String>;

    /// React to an event of the log in `instance`.
    fn on_event(
        instance: &str,
        state: Self::State,
        input: Self::Input,
        envelope: &Event,
    ) -> Result<Step<Self::State>, String>;

    /// React to what became of a command `instance` sent.
    fn on_outcome(
        instance: &str,
        state: Self::State,
        outcome: Outcome,
    ) -> Result<Step<Self::State>, String>;
}

/// A command a workflow sends to a decider deployed in the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCommand {
    /// The decider's module name.
    pub decider: String,
    /// The stream the command is for; none for a query decider.
    pub stream_id: Option<String>,
    /// The command envelope, `{"type", "data"}`, as JSON text.
    pub command: String,
    /// Send it this many milliseconds after the step that decided it; none: at once.
    pub delay_ms: Option<u64>,
}

impl SendCommand {
    /// `command` (an adjacently tagged serde enum, like a decider's commands) for
    /// `stream` of the decider `decider`.
    pub fn new(
        decider: impl Into<String>,
        stream: impl Into<String>,
        command: &impl Serialize,
    ) -> Self {
        SendCommand {
            decider: decider.into(),
            stream_id: Some(stream.into()),
            command: encode(command),
            delay_ms: None,
        }
    }

    /// `command` for the query decider `decider` (it names no stream).
    pub fn query(decider: impl Into<String>, command: &impl Serialize) -> Self {
        SendCommand {
            decider: decider.into(),
            stream_id: None,
            command: encode(command),
            delay_ms: None,
        }
    }

    /// The same command, sent `delay_ms` milliseconds after its step (a timer).
    pub fn after_ms(mut self, delay_ms: u64) -> Self {
        self.delay_ms = Some(delay_ms);
        self
    }

    /// The command's type: the envelope's `type` (empty when it has none).
    pub fn command_type(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.command)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_default()
    }
}

fn encode(command: &impl Serialize) -> String {
    serde_json::to_string(command).expect("a command that derives Serialize encodes to JSON")
}

/// A command a workflow sent, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command as it was sent.
    pub command: SendCommand,
    /// The events its decider appended (possibly none), or the decider's reason for
    /// refusing it.
    pub result: Result<Vec<Event>, String>,
}

impl Outcome {
    /// Whether the decider accepted the command.
    pub fn accepted(&self) -> bool {
        self.result.is_ok()
    }
}

/// What an instance does with an input: its new state, the commands to send, and
/// whether it is finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<S> {
    /// The instance's new state.
    pub state: S,
    /// The commands to send, in order.
    pub commands: Vec<SendCommand>,
    /// Whether the instance is done: it takes no further input and its pending timers
    /// never fire; this step's commands are still sent.
    pub finished: bool,
}

impl<S> Step<S> {
    /// Go on in `state`, sending nothing.
    pub fn new(state: S) -> Self {
        Step {
            state,
            commands: Vec::new(),
            finished: false,
        }
    }

    /// The same step, also sending `command`.
    pub fn send(mut self, command: SendCommand) -> Self {
        self.commands.push(command);
        self
    }

    /// The same step, finishing the instance.
    pub fn finish(mut self) -> Self {
        self.finished = true;
        self
    }
}

/// What an instance reacts to, as the engine passes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowInput {
    /// An event of the log.
    Event(Event),
    /// The outcome of a command the instance sent.
    Outcome(Outcome),
}

/// A step as the engine takes it: the state as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowStep {
    /// The new state, JSON text.
    pub state: String,
    /// The commands to send.
    pub commands: Vec<SendCommand>,
    /// Whether the instance is finished.
    pub finished: bool,
}
