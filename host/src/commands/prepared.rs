//! A command made ready to decide, the same way for stream and query deciders: its
//! envelope taken apart (the command the decider reads, the merged metadata), its
//! identity when it came with an id, and the reads and writes of its record.

use super::identity::Identity;
use super::metadata::{CommandMetadata, Envelope};
use super::request::CommandRequest;
use super::{CommandHandler, CommandOutcome};
use crate::store::{
    AppendOutcome, Appends, CommandRecord, CommandWrite, Decision, LogFilter, NewCommand,
    RecordedEvent, RecordedOutcome,
};
use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// A command ready to decide.
pub(super) struct Prepared {
    /// The partition it was sent to.
    pub(super) partition: String,
    /// The decider's name.
    pub(super) decider: String,
    /// The decider's version number.
    pub(super) module_version: u64,
    /// The stream it is for (empty for a query decider's command).
    pub(super) stream: String,
    /// The command as the decider reads it: the envelope without `metadata`.
    pub(super) command: Arc<str>,
    /// The merged metadata.
    pub(super) metadata: CommandMetadata,
    /// The metadata as one JSON object: what the decider's context holds.
    pub(super) context: Arc<str>,
    /// Its identity, when it came with an id.
    pub(super) identity: Option<Identity>,
}

impl Prepared {
    /// Take `request` apart for the decider `decider` (version `module_version`):
    /// its stream and partition checked as names, its envelope as JSON (errors name
    /// `named` as the stream), its metadata merged; refused
    /// ([`Error::MalformedCommand`]) when any of it cannot be used.
    pub(super) fn new(
        decider: &str,
        module_version: u64,
        request: CommandRequest,
        named: &str,
    ) -> Result<Prepared> {
        let CommandRequest {
            partition,
            stream,
            envelope,
            keys,
        } = request;
        super::check_command(decider, &partition, named, &envelope)?;
        let malformed = |reason: String, field: Option<String>| Error::MalformedCommand {
            module: decider.to_owned(),
            stream: named.to_owned(),
            reason,
            field,
        };
        let envelope =
            Envelope::parse(&envelope).map_err(|bad| malformed(bad.reason, Some(bad.pointer)))?;
        let metadata = CommandMetadata::resolve(keys.or(envelope.keys), envelope.user)
            .map_err(|reason| malformed(reason, None))?;
        let identity = metadata.id_given().then(|| {
            Identity::new(
                metadata.command_id(),
                decider,
                &stream,
                &envelope.command,
                metadata.user(),
            )
        });
        Ok(Prepared {
            partition,
            decider: decider.to_owned(),
            module_version,
            stream,
            command: envelope.command.into(),
            context: metadata.to_json().into(),
            metadata,
            identity,
        })
    }

    /// The outcome of this command, decided on `attempt`.
    pub(super) fn outcome(
        &self,
        attempt: u32,
        events: Vec<RecordedEvent>,
        stream_version: u64,
        position: Option<u64>,
    ) -> CommandOutcome {
        CommandOutcome {
            events,
            stream_version,
            position,
            module: self.decider.clone(),
            module_version: self.module_version,
            attempts: attempt,
            command_id: self.metadata.command_id().to_owned(),
            replayed: false,
        }
    }

    /// The id of the command's event at `index` (from 0) of what it decided, bound
    /// for `stream`: derived from the command's id when it has one, else fresh.
    pub(super) fn event_id(&self, stream: &str, index: u64) -> Uuid {
        match &self.identity {
            Some(identity) => identity.event_id(&self.decider, &self.partition, stream, index),
            None => Uuid::now_v7(),
        }
    }

    /// The record of this command (it has an id), decided on `attempt`.
    fn record(&self, identity: &Identity, attempt: u32, decision: Decision) -> NewCommand {
        NewCommand {
            partition: self.partition.clone(),
            command_id: identity.command_id.clone(),
            decider: self.decider.clone(),
            stream: self.stream.clone(),
            fingerprint: identity.fingerprint.clone(),
            module_version: self.module_version,
            attempts: attempt,
            decision,
        }
    }
}

/// What appending a command's events did.
pub(super) enum Appended {
    /// They were appended now: each stream's outcome.
    Now(Vec<AppendOutcome>),
    /// A send of the same id got there first: its outcome.
    Replayed(CommandOutcome),
}

impl CommandHandler {
    /// For a command with an id: the answer from its record, when one is stored.
    pub(super) async fn recorded(&self, prepared: &Prepared) -> Result<Option<CommandOutcome>> {
        let Some(identity) = &prepared.identity else {
            return Ok(None);
        };
        match self
            .store
            .command(&prepared.partition, &identity.command_id)
            .await?
        {
            Some(record) => self.replay(identity, record).await.map(Some),
            None => Ok(None),
        }
    }

    /// For a command with an id, record `outcome` (a rejection, or no events) decided
    /// on `attempt`: `None` once written, or the answer from the record a send of
    /// the same id wrote first.
    pub(super) async fn record_outcome(
        &self,
        prepared: &Prepared,
        attempt: u32,
        outcome: RecordedOutcome,
    ) -> Result<Option<CommandOutcome>> {
        let Some(identity) = &prepared.identity else {
            return Ok(None);
        };
        let record = prepared.record(identity, attempt, Decision::Outcome(outcome));
        match self.store.record_command(record).await? {
            CommandWrite::Written { .. } => Ok(None),
            CommandWrite::Found(first) => self.replay(identity, first).await.map(Some),
        }
    }

    /// The answer to a command the decider refused with `error`: a rejection of a
    /// command with an id is its outcome, recorded (a send of the same id that got
    /// there first answers instead); one it cannot read is not recorded.
    pub(super) async fn rejection(
        &self,
        prepared: &Prepared,
        attempt: u32,
        error: Error,
    ) -> Result<CommandOutcome> {
        if let Error::Rejected { message, .. } = &error {
            let rejected = RecordedOutcome::Rejected {
                message: message.clone(),
            };
            if let Some(first) = self.record_outcome(prepared, attempt, rejected).await? {
                return Ok(first);
            }
        }
        Err(error)
    }

    /// Append a command's events, decided on `attempt`: with its record in the same
    /// transaction when it has an id (unless a send of the same id got there first).
    pub(super) async fn append_command(
        &self,
        prepared: &Prepared,
        attempt: u32,
        appends: Appends,
    ) -> Result<Appended> {
        let Some(identity) = &prepared.identity else {
            return Ok(Appended::Now(self.store.append_all(appends).await?));
        };
        let record = prepared.record(identity, attempt, Decision::Append(appends));
        match self.store.record_command(record).await? {
            CommandWrite::Written { appended, .. } => Ok(Appended::Now(appended)),
            CommandWrite::Found(first) => {
                Ok(Appended::Replayed(self.replay(identity, first).await?))
            }
        }
    }

    /// The answer to a command sent with the id of `record`: its recorded outcome,
    /// when it is the same command; refused when it is another.
    async fn replay(&self, identity: &Identity, record: CommandRecord) -> Result<CommandOutcome> {
        if record.fingerprint != identity.fingerprint {
            return Err(Error::IdempotencyKeyReused {
                partition: record.partition,
                command_id: record.command_id,
                decider: record.decider,
                stream: record.stream,
            });
        }
        self.replayed.fetch_add(1, Ordering::Relaxed);
        let (stream_version, positions) = match record.outcome {
            RecordedOutcome::Rejected { message } => {
                return Err(Error::Rejected {
                    module: record.decider,
                    message,
                });
            }
            RecordedOutcome::Decided {
                stream_version,
                positions,
            } => (stream_version, positions),
        };
        let events = match positions {
            None => Vec::new(),
            Some((first, last)) => {
                let count = usize::try_from(last + 1 - first).unwrap_or(usize::MAX);
                self.store
                    .read_log(first - 1, &LogFilter::default(), count)
                    .await?
            }
        };
        Ok(CommandOutcome {
            events,
            stream_version,
            position: positions.map(|(_, last)| last),
            module: record.decider,
            module_version: record.module_version,
            attempts: record.attempts,
            command_id: record.command_id,
            replayed: true,
        })
    }
}
