//! Workflow cases: given inputs (events of the log, and outcomes of commands the
//! instance sent), then the commands the last input's step sends and whether it
//! finished.
//!
//! The inputs run in turn on one instance, as the engine runs them: each event through
//! `instance-of` (an event it maps to no instance is passed over), then `handle` with
//! the state the step before left; an outcome answers the newest command sent of its
//! type that has no outcome yet. Commands are compared as
//! `{decider, stream, command, delayMs}` values under the case's rules.

use super::{
    GivenEvent, ModuleUnderTest, Result, Rules, Verdict, fault_or_error, parse_json, recorded,
};
use crate::runtime::{CommandOutcome, CommandResult, WorkflowCommand, WorkflowInput, WorkflowStep};
use serde_json::{Map, Value, json};

/// The outcome of a command the instance sent, as a case gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenOutcome {
    /// The type of the command it answers (the envelope's `type`).
    pub command_type: String,
    /// The events its decider appended, or its reason for refusing it.
    pub result: std::result::Result<Vec<GivenEvent>, String>,
}

/// One input of a workflow case.
#[derive(Debug, Clone, PartialEq)]
pub enum GivenInput {
    /// An event of the log.
    Event(GivenEvent),
    /// The outcome of a command the instance sent.
    Outcome(GivenOutcome),
}

/// What the last input's step should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedStep {
    /// The commands it sends, in order: `{decider, stream, command, delayMs}` values.
    pub commands: Vec<Value>,
    /// Whether it finishes the instance (none: not checked).
    pub finished: Option<bool>,
}

/// A workflow case being written.
pub struct WorkflowSpec<'m, 'r> {
    module: &'m ModuleUnderTest<'r>,
    inputs: Vec<GivenInput>,
    rules: Rules,
}

impl<'m, 'r> WorkflowSpec<'m, 'r> {
    /// A case for the workflow `module` with no input, compared exactly.
    pub fn new(module: &'m ModuleUnderTest<'r>) -> Self {
        WorkflowSpec {
            module,
            inputs: Vec::new(),
            rules: Rules::default(),
        }
    }

    /// The inputs, in order.
    pub fn given(mut self, inputs: impl IntoIterator<Item = GivenInput>) -> Self {
        self.inputs.extend(inputs);
        self
    }

    /// Compare under `rules`.
    pub fn matching(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Run the inputs and compare the last step with `expected`. Differences, guest
    /// faults included, are in the verdict.
    pub fn then(self, expected: &ExpectedStep) -> Result<Verdict> {
        let module = self.module.module();
        let mut verdict = Verdict::default();
        let mut instance: Option<String> = None;
        let mut state: Option<String> = None;
        let mut last: Option<WorkflowStep> = None;
        // Commands sent so far, and whether each has had its outcome.
        let mut sent: Vec<(WorkflowCommand, bool)> = Vec::new();
        let given: Vec<GivenEvent> = self
            .inputs
            .iter()
            .filter_map(|input| match input {
                GivenInput::Event(event) => Some(event.clone()),
                GivenInput::Outcome(_) => None,
            })
            .collect();
        let mut events = recorded(&given).into_iter();
        for given in &self.inputs {
            let input = match given {
                GivenInput::Event(_) => {
                    let event = events.next().expect("one recorded event per given one");
                    let Some(mapped) =
                        fault_or_error(module.instance_of(&event), "instance-of", &mut verdict)?
                    else {
                        return Ok(verdict);
                    };
                    let Some(mapped) = mapped else { continue };
                    if let Some(first) = &instance
                        && *first != mapped
                    {
                        verdict.push(format!(
                            "the {} at position {} belongs to instance '{mapped}', the case's first event to '{first}': a case is one instance",
                            event.event_type, event.global_position
                        ));
                        return Ok(verdict);
                    }
                    instance = Some(mapped);
                    WorkflowInput::Event(event)
                }
                GivenInput::Outcome(outcome) => match answer(&mut sent, outcome) {
                    Ok(input) => input,
                    Err(problem) => {
                        verdict.push(problem);
                        return Ok(verdict);
                    }
                },
            };
            let Some(instance) = &instance else {
                verdict.push("an outcome comes before any event of the instance: give the event that starts it first".to_owned());
                return Ok(verdict);
            };
            let current = match state.take() {
                Some(state) => state,
                None => match fault_or_error(
                    module.workflow_initial_state(),
                    "initial-state",
                    &mut verdict,
                )? {
                    Some(state) => state,
                    None => return Ok(verdict),
                },
            };
            let Some(step) = fault_or_error(
                module.handle(instance, &current, &input),
                "handle",
                &mut verdict,
            )?
            else {
                return Ok(verdict);
            };
            sent.extend(step.commands.iter().cloned().map(|c| (c, false)));
            state = Some(step.state.clone());
            last = Some(step);
        }
        let Some(last) = last else {
            verdict.push(
                "no given event belongs to an instance: give an event the workflow reacts to"
                    .to_owned(),
            );
            return Ok(verdict);
        };
        let actual = Value::Array(last.commands.iter().map(command_value).collect());
        for difference in self.rules.diff(
            "commands",
            &Value::Array(expected.commands.clone()),
            &actual,
        ) {
            verdict.push(difference);
        }
        if let Some(finished) = expected.finished
            && finished != last.finished
        {
            verdict.push(format!(
                "finished: expected {finished}, got {}",
                last.finished
            ));
        }
        Ok(verdict)
    }
}

/// The input of `outcome`: the newest command of its type without an outcome, answered.
fn answer(
    sent: &mut [(WorkflowCommand, bool)],
    outcome: &GivenOutcome,
) -> std::result::Result<WorkflowInput, String> {
    let Some((command, answered)) = sent
        .iter_mut()
        .rev()
        .find(|(c, answered)| !answered && command_type(c) == outcome.command_type)
    else {
        return Err(format!(
            "an outcome answers a `{}` command, but the instance sent none (without an outcome yet)",
            outcome.command_type
        ));
    };
    *answered = true;
    let reply = match &outcome.result {
        Ok(events) => CommandResult::Accepted(recorded(events)),
        Err(reason) => CommandResult::Rejected(reason.clone()),
    };
    Ok(WorkflowInput::Outcome(CommandOutcome {
        command: command.clone(),
        reply,
    }))
}

fn command_type(command: &WorkflowCommand) -> String {
    parse_json(&command.command)["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A sent command as the value compared with an expected one.
fn command_value(command: &WorkflowCommand) -> Value {
    let mut value = Map::new();
    value.insert("decider".to_owned(), json!(command.decider));
    value.insert("stream".to_owned(), json!(command.stream_id));
    value.insert("command".to_owned(), parse_json(&command.command));
    if let Some(delay) = command.delay_ms {
        value.insert("delayMs".to_owned(), json!(delay));
    }
    Value::Object(value)
}
