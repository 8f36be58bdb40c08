//! What a projection reports about itself, and the settings projections run with.

use crate::store::FailurePolicy;
use std::fmt;
use std::time::Duration;

/// What a projection generation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectionState {
    /// Applying the log, behind its head.
    CatchingUp,
    /// At the head, applying new events as they are appended.
    Live,
    /// A new generation being built beside the one queries read.
    Rebuilding,
    /// Stopped at an event it could not apply.
    Faulted,
    /// Not running in this process (shut down, replaced, or its logic not deployed).
    Stopped,
    /// Another process runs it (it holds the lease); this one takes over when that
    /// process stops or its lease expires.
    Standby,
}

impl fmt::Display for ProjectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProjectionState::CatchingUp => "catching-up",
            ProjectionState::Live => "live",
            ProjectionState::Rebuilding => "rebuilding",
            ProjectionState::Faulted => "faulted",
            ProjectionState::Stopped => "stopped",
            ProjectionState::Standby => "standby",
        })
    }
}

/// Settings of a [`ProjectionEngine`](super::ProjectionEngine).
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Events read and applied per transaction.
    pub batch_size: usize,
    /// How long a runner waits before retrying after a database error.
    pub retry_delay: Duration,
    /// How long a runner's lease lasts unless renewed (it renews at a third of it):
    /// how long another process waits to take over when this one dies.
    pub lease_ttl: Duration,
    /// The largest document a projection may put, in bytes; a larger one fails the
    /// event that put it, under the projection's failure policy.
    pub max_document_bytes: usize,
    /// The most bytes of documents a batch holds in memory before it is committed:
    /// a batch whose documents pass it is applied again one event per transaction,
    /// and an event whose documents alone pass it fails under the failure policy.
    pub max_batch_document_bytes: usize,
    /// Bytes of committed documents each runner keeps in memory between batches, so
    /// that a document read again is not read from the store again (0: none).
    pub document_cache_bytes: usize,
}

impl Default for ProjectionConfig {
    /// Batches of 500 events, retries after one second, leases of ten seconds,
    /// documents of at most 1 MiB and 64 MiB of them per batch.
    fn default() -> Self {
        ProjectionConfig {
            batch_size: 500,
            retry_delay: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            max_document_bytes: 1 << 20,
            max_batch_document_bytes: 64 << 20,
            document_cache_bytes: 16 << 20,
        }
    }
}

/// The state of one projection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: String,
    /// What it does with an event it cannot apply.
    pub policy: FailurePolicy,
    /// The generation queries read.
    pub active: GenerationStatus,
    /// A new generation being built beside it, if any.
    pub rebuild: Option<GenerationStatus>,
}

/// The state of one generation of a projection's read model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationStatus {
    /// The generation's number (each rebuild makes a new one).
    pub generation: u64,
    /// The module whose logic builds it.
    pub module: String,
    /// That module's version.
    pub version: u64,
    /// The identity of the upcaster set the generation was started under (empty: none).
    /// The runner reads through the set deployed now; a rebuild records it.
    pub upcasters: String,
    /// Every event up to this global position is applied.
    pub checkpoint: u64,
    /// The log's head.
    pub head: u64,
    /// Events of the log not yet passed: `head - checkpoint`.
    pub lag: u64,
    /// What it is doing.
    pub state: ProjectionState,
    /// Events applied per second, over the last few seconds.
    pub events_per_second: f64,
    /// Events applied by this process.
    pub events_applied: u64,
    /// The last error met, if the work has not succeeded since.
    pub last_error: Option<String>,
    /// The global position of the event it stopped at, when faulted.
    pub faulted_at: Option<u64>,
    /// Events skipped under the `skip` policy.
    pub skipped: u64,
    /// Batches this process applied but could not commit because its lease had
    /// passed to another owner in the meantime (the fence refused them): nothing of
    /// them was stored.
    pub fenced_commits: u64,
    /// Who holds this generation's lease now, read from the lease store; `None` when
    /// nobody holds it unexpired (or when the status was taken without reading the
    /// leases: see [`ProjectionEngine::read_runners`](super::ProjectionEngine::read_runners)).
    pub runner: Option<Runner>,
}

/// The holder of a projection generation's lease: the node that runs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Runner {
    /// The lease owner: the node as `hostname:pid:random`.
    pub owner: String,
    /// The lease's fencing token; it grows each time the lease passes to another owner.
    pub token: u64,
    /// When the lease expires unless renewed: milliseconds since the Unix epoch, on
    /// the store's clock.
    pub expires_at_ms: u64,
    /// Whether the owner is the process answering.
    pub this_node: bool,
}
