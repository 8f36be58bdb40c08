//! The records the engine keeps besides events: projection generations and their
//! documents, deployed modules, leases. Plain values, the same for every backend.

use std::collections::HashMap;

/// What a projection does with an event its logic cannot apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Stop the projection with the event's position and the error recorded; its
    /// checkpoint stays just before the event, and a restart or a redeploy retries it.
    #[default]
    Stop,
    /// Record the event as skipped, with the error, and go on.
    Skip,
    /// Try the event again, after a pause that doubles with each failure in a row
    /// (from the retry delay, one second by default, up to a minute); the error shows
    /// in the status meanwhile.
    Retry,
}

impl FailurePolicy {
    /// The policy's name: `stop`, `skip` or `retry`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Stop => "stop",
            FailurePolicy::Skip => "skip",
            FailurePolicy::Retry => "retry",
        }
    }

    /// The policy named `name` (as [`as_str`](Self::as_str) gives it), if any.
    pub fn from_name(name: &str) -> Option<FailurePolicy> {
        match name {
            "stop" => Some(FailurePolicy::Stop),
            "skip" => Some(FailurePolicy::Skip),
            "retry" => Some(FailurePolicy::Retry),
            _ => None,
        }
    }
}

/// The logic that builds a generation, as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltBy {
    /// The module name (status shows it).
    pub module: String,
    /// Its version number (0 for native logic).
    pub version: u64,
    /// Identifies the logic's version: another identity means another read model.
    pub identity: String,
    /// The identity of the upcaster set the generation was started under (see
    /// [`UpcasterSet::identity`](crate::upcasting::UpcasterSet::identity)); empty for
    /// none. Recorded when the generation is made; a rebuild records the set then.
    pub upcasters: String,
}

/// One stored generation of a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Its number; each rebuild gets a new one.
    pub generation: u64,
    /// The logic building it.
    pub built_by: BuiltBy,
    /// Every event up to this global position is applied.
    pub checkpoint: u64,
    /// The event it stopped at and why, when it stopped.
    pub fault: Option<(u64, String)>,
    /// How many events it skipped.
    pub skipped: u64,
}

/// A stored projection: the generation queries read and the one being built, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// What it does with an event it cannot apply.
    pub policy: FailurePolicy,
    /// The generation queries read.
    pub active: Generation,
    /// A newer generation being built beside it.
    pub building: Option<Generation>,
}

/// A document's key within one generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    /// The partition of the events that wrote it.
    pub partition: String,
    /// Its collection.
    pub collection: String,
    /// Its id within the collection.
    pub id: String,
}

/// A change to one document: its new text, or `None` to delete it.
pub type DocumentChange = Option<String>;

/// A work lease's fencing token, carried by what is committed under the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// The token it was granted with.
    pub token: u64,
}

/// What one commit of a projection runner writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentBatch {
    /// The projection.
    pub projection: String,
    /// The generation the runner builds.
    pub generation: u64,
    /// Document changes, at most one per key.
    pub changes: HashMap<DocumentKey, DocumentChange>,
    /// The new checkpoint: every event up to it is applied (or skipped).
    pub checkpoint: u64,
    /// An event skipped under the `skip` policy, and why.
    pub skipped: Option<(u64, String)>,
    /// The runner read up to the log's head: a rebuilt generation may take over.
    pub caught_up: bool,
    /// The lease the runner holds, when it runs under one: the batch commits only while
    /// the lease's token is still this one.
    pub fence: Option<Fence>,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The changes and checkpoint are stored.
    Stored,
    /// Stored, and this generation is now the one queries read; the old one is gone.
    Promoted,
    /// Nothing stored: the generation was dropped (a newer build or the switch retired
    /// it), so its runner must stop.
    Superseded,
    /// Nothing stored: the batch's lease passed to another owner.
    Fenced,
}

/// One read-model document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Document {
    /// Its id within its collection.
    pub id: String,
    /// The document: a JSON object, as text (serialized inline, as JSON).
    #[serde(serialize_with = "inline_json")]
    pub document: String,
}

/// Write stored JSON text as JSON, exactly as stored, not as a string.
fn inline_json<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let raw: &serde_json::value::RawValue =
        serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
    serde::Serialize::serialize(raw, serializer)
}

/// The bytes of documents a page of [`ListQuery::first`] ends at: 16 MiB.
pub const DEFAULT_PAGE_BYTES: usize = 16 << 20;

/// Which documents of a collection to list: a page in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// At most this many documents (at least 1).
    pub limit: usize,
    /// At most about this many bytes of documents: a page ends after the document that
    /// passes it (so it always holds at least one), with its `next` cursor set.
    pub max_bytes: usize,
    /// Only documents whose id sorts after this one: the `next` of the previous page.
    pub after: Option<String>,
    /// Only documents whose top-level `field` equals `value`.
    pub filter: Option<FieldFilter>,
}

impl ListQuery {
    /// The first `limit` documents, unfiltered.
    pub fn first(limit: usize) -> Self {
        ListQuery {
            limit,
            max_bytes: DEFAULT_PAGE_BYTES,
            after: None,
            filter: None,
        }
    }

    /// The same query, its pages ending once they pass `max_bytes` of documents.
    pub fn at_most_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The same query, only for documents whose top-level `field` equals `value`.
    pub fn with_filter(mut self, field: impl Into<String>, value: serde_json::Value) -> Self {
        self.filter = Some(FieldFilter {
            field: field.into(),
            value,
        });
        self
    }

    /// The same query, for the page after the document `id`.
    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after = Some(id.into());
        self
    }
}

/// `field = value` on a document's top-level field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    /// The field's name: letters, digits and `_`.
    pub field: String,
    /// The value it must equal: a string, number, boolean or null.
    pub value: serde_json::Value,
}

/// One page of a listed collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    /// The documents, in id order.
    pub documents: Vec<Document>,
    /// The cursor for the next page (`ListQuery::after`), when there may be one.
    pub next: Option<String>,
}

/// A module about to be recorded as deployed.
#[derive(Debug, Clone, Copy)]
pub struct NewModule<'a> {
    /// Its name.
    pub name: &'a str,
    /// Hex SHA-256 of its bytes.
    pub hash: &'a str,
    /// The world it implements (`decider`, `projection`).
    pub world: &'a str,
    /// What a projection does with an event it cannot apply (projections only).
    pub policy: Option<FailurePolicy>,
    /// The component.
    pub bytes: &'a [u8],
    /// Whether the deploy may give the name another world than its newest version
    /// has; when not, such a deploy is refused ([`Error::WorldChange`]) in the same
    /// transaction that would record it.
    ///
    /// [`Error::WorldChange`]: crate::Error::WorldChange
    pub replace_world: bool,
}

/// One recorded deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    /// The module's name.
    pub name: String,
    /// Its version under that name, from 1.
    pub version: u64,
    /// Hex SHA-256 of its bytes.
    pub hash: String,
    /// The world it implements.
    pub world: String,
    /// What the projection does with an event it cannot apply (projections only).
    pub policy: Option<FailurePolicy>,
    /// The component's size, in bytes.
    pub size: u64,
    /// When it was deployed (RFC 3339, UTC).
    pub deployed_at: String,
}

/// A snapshot projection: the states of a category's streams as a decider folds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProjection {
    /// The decider module's name.
    pub decider: String,
    /// The stream category.
    pub category: String,
    /// What it does with an event it cannot fold.
    pub policy: FailurePolicy,
}

/// A lease as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The job it is for, e.g. `projection:cart-summary`.
    pub name: String,
    /// Who holds (or last held) it.
    pub owner: String,
    /// Grows each time the lease passes to another owner.
    pub token: u64,
    /// When it expires unless renewed: milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl Lease {
    /// The fence that work committed under this lease carries.
    pub fn fence(&self) -> Fence {
        Fence {
            lease: self.name.clone(),
            token: self.token,
        }
    }
}

/// An event a projection skipped under the `skip` policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedEvent {
    /// The event's global position.
    pub position: u64,
    /// Why the projection could not apply it.
    pub error: String,
}
