//! What a workflow reports about itself, and the settings workflows run with.

use crate::projections::{ProjectionState, Runner};
use crate::store::FailurePolicy;

/// Settings of a [`WorkflowEngine`](super::WorkflowEngine).
#[derive(Debug, Clone)]
pub struct WorkflowConfig {
    /// The most steps one input may set off in its instance (the input's own step and
    /// those of the outcomes of the commands they send): past it the input fails, under
    /// the workflow's failure policy, since its commands and outcomes would loop.
    pub max_steps_per_input: u64,
}

impl Default for WorkflowConfig {
    /// 100 steps per input.
    fn default() -> Self {
        WorkflowConfig {
            max_steps_per_input: 100,
        }
    }
}

/// The state of one workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStatus {
    /// The workflow's name (its module's).
    pub name: String,
    /// The version of its module deployed here now; every input from now on is
    /// handled by it.
    pub version: u64,
    /// What it does with an input it cannot handle.
    pub policy: FailurePolicy,
    /// What its runner is doing (the states of a projection).
    pub state: ProjectionState,
    /// Every input up to this global position is handled, its commands sent.
    pub checkpoint: u64,
    /// The log's head.
    pub head: u64,
    /// Events of the log not yet passed: `head - checkpoint`.
    pub lag: u64,
    /// Instances with a step that have not finished, as this node has read them.
    pub instances_open: u64,
    /// Instances that finished.
    pub instances_finished: u64,
    /// Timers scheduled and not yet fired, of open instances.
    pub timers_pending: u64,
    /// When the soonest of them is due: milliseconds since the Unix epoch.
    pub next_timer_at_ms: Option<u64>,
    /// Inputs handled by this process.
    pub inputs_handled: u64,
    /// Steps the guest decided and this process wrote.
    pub steps: u64,
    /// Commands this process sent (a resend after a restart counts again; it is
    /// applied once).
    pub commands_sent: u64,
    /// The last error met (by the runner or by the timers), if the work has not
    /// succeeded since.
    pub last_error: Option<String>,
    /// The global position of the input it stopped at, when faulted.
    pub faulted_at: Option<u64>,
    /// Inputs skipped under the `skip` policy.
    pub skipped: u64,
    /// Who holds the workflow's lease now (the node running it), when known.
    pub runner: Option<Runner>,
}
