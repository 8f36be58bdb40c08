//! Every command timed and traced the same way, whichever decider handles it: a
//! `command` span (decider, stream, partition, and its outcome once known) around the
//! whole of it, so its store append and guest calls are its children, and its
//! duration in the histogram of its decider and outcome.

use super::{CommandHandler, CommandOutcome};
use crate::metrics::{Latencies, observe_since};
use crate::{Error, Result};
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

impl CommandHandler {
    /// Run `command` for `decider` on `stream` of `partition` (empty for a query
    /// decider) inside its span, and record how long it took and how it ended.
    pub(super) async fn measured(
        &self,
        decider: &str,
        stream: &str,
        partition: &str,
        command: impl Future<Output = Result<CommandOutcome>>,
    ) -> Result<CommandOutcome> {
        let span = tracing::info_span!(
            "command",
            decider,
            stream,
            partition,
            outcome = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = command.instrument(span.clone()).await;
        let word = outcome_word(&outcome);
        span.record("outcome", word);
        let labels = vec![
            ("decider", decider.to_owned()),
            ("outcome", word.to_owned()),
        ];
        observe_since(&self.latency.get_or_create(&labels), started);
        outcome
    }

    /// Seconds of each command, by decider and outcome (`handled`, `replayed`,
    /// `rejected`, `conflict`, `error`).
    pub fn latency(&self) -> &Latencies {
        &self.latency
    }
}

/// How a command ended, in one word.
fn outcome_word(outcome: &Result<CommandOutcome>) -> &'static str {
    match outcome {
        Ok(outcome) if outcome.replayed => "replayed",
        Ok(_) => "handled",
        Err(
            Error::Rejected { .. }
            | Error::InvalidCommand { .. }
            | Error::MalformedCommand { .. }
            | Error::IdempotencyKeyReused { .. },
        ) => "rejected",
        Err(Error::TooManyConflicts { .. } | Error::AppendConditionFailed { .. }) => "conflict",
        Err(_) => "error",
    }
}
