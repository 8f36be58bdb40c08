//! Command records: what a command sent with an id did, kept under that id, so that a
//! resend of it (after a lost reply, a timeout, a restart) is answered with the same
//! outcome and decides and appends nothing.
//!
//! A record is written in the same transaction as the command's events
//! ([`EventStore::record_command`](super::EventStore::record_command)), so a crash
//! leaves both or neither. It holds the outcome, not the events themselves: the global
//! positions of the events the command appended (read back from the log on a
//! resend), or the decider's rejection. Records are kept for as long as the events.

use super::{AppendOutcome, Appends};

/// What a command with an id is to leave in the store: the record, and the events to
/// append with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommand {
    /// The partition the command was sent to; ids are unique per partition.
    pub partition: String,
    /// The command's id (the `Idempotency-Key` of an HTTP request).
    pub command_id: String,
    /// The decider that decided it.
    pub decider: String,
    /// The stream it was for (empty for a query decider's command).
    pub stream: String,
    /// A hash of the command as sent (decider, stream, command, the caller's
    /// metadata): a resend must carry the same.
    pub fingerprint: String,
    /// The decider's version number.
    pub module_version: u64,
    /// How many times the command was decided.
    pub attempts: u32,
    /// What the decider decided.
    pub decision: Decision,
}

/// What a decider decided for a command with an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Events, appended with the record: one append request, to the command's stream
    /// (or, for a query decider, to the streams it named, under its condition).
    Append(Appends),
    /// An outcome without events: a rejection, or no events decided (then its
    /// `positions` are `None`).
    Outcome(RecordedOutcome),
}

/// A stored command record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// The partition the command was sent to.
    pub partition: String,
    /// The command's id.
    pub command_id: String,
    /// The decider that decided it.
    pub decider: String,
    /// The stream it was for (empty for a query decider's command).
    pub stream: String,
    /// The hash of the command as first sent.
    pub fingerprint: String,
    /// The decider's version number when it decided.
    pub module_version: u64,
    /// How many times the command was decided.
    pub attempts: u32,
    /// What it did.
    pub outcome: RecordedOutcome,
    /// When the record was written (RFC 3339, UTC, milliseconds).
    pub recorded_at: String,
}

/// What a recorded command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedOutcome {
    /// The decider decided: the stream's version after the command (of the last
    /// stream appended to), and the global positions of the first and last event
    /// appended (`None` when it decided none).
    Decided {
        /// The stream's version after the command.
        stream_version: u64,
        /// First and last global position of its events.
        positions: Option<(u64, u64)>,
    },
    /// The decider rejected it.
    Rejected {
        /// The reason it gave.
        message: String,
    },
}

/// What [`EventStore::record_command`](super::EventStore::record_command) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandWrite {
    /// The record was written now, with the append's outcomes when it carried events.
    Written {
        /// The record as stored.
        record: CommandRecord,
        /// The outcome of each stream's append, in order (none without events).
        appended: Vec<AppendOutcome>,
    },
    /// A record of that id was stored already: nothing was written, and this is it.
    Found(CommandRecord),
}

/// A record's outcome as its columns: kind (`decided` or `rejected`), stream version,
/// first and last position, message.
pub(super) type OutcomeColumns = (
    &'static str,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<String>,
);

impl RecordedOutcome {
    /// The outcome as stored in a record's columns.
    pub(super) fn columns(&self) -> OutcomeColumns {
        match self {
            RecordedOutcome::Decided {
                stream_version,
                positions,
            } => (
                "decided",
                Some(*stream_version),
                positions.map(|(first, _)| first),
                positions.map(|(_, last)| last),
                None,
            ),
            RecordedOutcome::Rejected { message } => {
                ("rejected", None, None, None, Some(message.clone()))
            }
        }
    }

    /// The outcome stored in a record's columns; `None` for columns no build of
    /// Refold writes.
    pub(super) fn from_columns(
        kind: &str,
        stream_version: Option<u64>,
        first: Option<u64>,
        last: Option<u64>,
        message: Option<String>,
    ) -> Option<RecordedOutcome> {
        match (kind, stream_version, message) {
            ("decided", Some(stream_version), None) => Some(RecordedOutcome::Decided {
                stream_version,
                positions: first.zip(last),
            }),
            ("rejected", None, Some(message)) => Some(RecordedOutcome::Rejected { message }),
            _ => None,
        }
    }
}

impl RecordedOutcome {
    /// The outcome of a command whose events were appended as `appended` says, one
    /// outcome per stream, in order.
    pub(super) fn appended(appended: &[AppendOutcome]) -> RecordedOutcome {
        let first = appended.iter().map(|a| a.first_position).min();
        let last = appended.iter().map(|a| a.last_position).max();
        RecordedOutcome::Decided {
            stream_version: appended.last().map_or(0, |a| a.stream_version),
            positions: first.zip(last),
        }
    }
}

impl NewCommand {
    /// The record of this command with `outcome`, written at `recorded_at`.
    pub(super) fn record(&self, outcome: RecordedOutcome, recorded_at: &str) -> CommandRecord {
        CommandRecord {
            partition: self.partition.clone(),
            command_id: self.command_id.clone(),
            decider: self.decider.clone(),
            stream: self.stream.clone(),
            fingerprint: self.fingerprint.clone(),
            module_version: self.module_version,
            attempts: self.attempts,
            outcome,
            recorded_at: recorded_at.to_owned(),
        }
    }
}
