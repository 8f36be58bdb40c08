//! A command as the handler takes it: the stream, the command envelope, and Refold's
//! own metadata keys given from outside the envelope (HTTP headers, `--id`, a library
//! caller).

use crate::store::DEFAULT_PARTITION;

/// A command for one stream.
///
/// `envelope` is the command's JSON text: the command the decider reads (the cart's
/// `{"type", "data"}`), with an optional `metadata` object beside its keys. The
/// handler takes `metadata` out before the decider sees the command: its `refold`
/// object gives Refold's keys ([`RefoldKeys`]), every other key is the caller's own
/// and is kept on each event the command appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The stream's partition.
    pub partition: String,
    /// The stream the command is for (empty for a query decider's command).
    pub stream: String,
    /// The command envelope, as JSON text.
    pub envelope: String,
    /// Refold's keys given beside the envelope; they win over the envelope's own.
    pub keys: RefoldKeys,
}

impl CommandRequest {
    /// `envelope` for `stream` in the default partition, with no keys beside it.
    pub fn new(stream: impl Into<String>, envelope: impl Into<String>) -> Self {
        CommandRequest {
            partition: DEFAULT_PARTITION.to_owned(),
            stream: stream.into(),
            envelope: envelope.into(),
            keys: RefoldKeys::default(),
        }
    }

    /// `envelope` for a query decider, in the default partition: it names no stream
    /// (`stream` stays empty; the decider names the stream of each event).
    pub fn query(envelope: impl Into<String>) -> Self {
        CommandRequest::new("", envelope)
    }

    /// The same command in another partition.
    pub fn in_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }

    /// The same command with an id: a resend with the same id gets the first
    /// outcome, and nothing is decided or appended again.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.keys.command_id = Some(id.into());
        self
    }

    /// The same command with Refold's keys `keys` beside the envelope.
    pub fn with_keys(mut self, keys: RefoldKeys) -> Self {
        self.keys = keys;
        self
    }
}

/// Refold's own metadata keys of a command, as one source gives them: each may be
/// absent. Sources are merged key by key, the first source that gives a key winning
/// ([`or`](Self::or)): the HTTP headers, then the envelope's `metadata.refold`; what
/// no source gives is generated ([`CommandMetadata`](super::CommandMetadata)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefoldKeys {
    /// The command's id: a resend with the same id gets the first outcome.
    pub command_id: Option<String>,
    /// The id shared by everything one request, trace or conversation caused.
    pub correlation_id: Option<String>,
    /// What caused the command's events (default: the command itself).
    pub causation_id: Option<String>,
    /// A W3C trace context (`00-<trace id>-<parent id>-<flags>`); its trace id is the
    /// correlation id when no correlation id is given beside it.
    pub traceparent: Option<String>,
}

impl RefoldKeys {
    /// Each key of `self`, else `lower`'s. The correlation id is chosen by source,
    /// not by key: a source's own correlation id, else its traceparent's trace id,
    /// before anything of a lower source.
    pub fn or(self, lower: RefoldKeys) -> RefoldKeys {
        let correlation_id = self.correlation().or_else(|| lower.correlation());
        RefoldKeys {
            command_id: self.command_id.or(lower.command_id),
            correlation_id,
            causation_id: self.causation_id.or(lower.causation_id),
            traceparent: self.traceparent.or(lower.traceparent),
        }
    }

    /// This source's correlation id: its own, else its traceparent's trace id (none
    /// for a traceparent that is not one; the handler refuses it, naming it).
    pub(super) fn correlation(&self) -> Option<String> {
        self.correlation_id.clone().or_else(|| {
            self.traceparent
                .as_deref()
                .and_then(super::metadata::trace_id)
                .map(str::to_owned)
        })
    }
}
