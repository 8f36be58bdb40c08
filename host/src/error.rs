//! The one error type of the `refold` engine.
//!
//! Every fallible call of the engine returns [`Error`] (the harness has its own,
//! [`harness::Error`](crate::harness::Error), which wraps this one). Variants are
//! grouped by the part that raises them; each message names the offending thing and,
//! where there is one, the fix. A dependency's error is never a variant of its own: it
//! is the [`Cause`] of a variant that says what Refold was doing. Messages do not repeat
//! their source's text: print the chain ([`chain`], or `{:#}` with anyhow) to see it.

use crate::store::Measure;
use crate::version::ExpectedVersion;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a dependency (SQLite, wasmtime, the operating system) reported, kept as the
/// source of the Refold error that says what failed.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error's message followed by its sources, `: `-separated, on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The result type of the `refold` library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Refold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- event store -----
    /// The stream's version did not match the append's expected version; nothing was written.
    #[error(
        "stream '{stream}' in partition '{partition}' is at {actual}, but the append expected {expected}: reload the stream and try again"
    )]
    Conflict {
        /// The partition of the stream.
        partition: String,
        /// The stream appended to.
        stream: String,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The stream's actual version (0 when the stream does not exist).
        actual: u64,
    },
    /// A conditional append was refused: an event matching its condition's query is
    /// stored after the condition's position. Nothing was written.
    #[error(
        "the append's condition failed: the event at global position {position} matches its query{}; nothing was appended: read the events matching the query again (the log is at {head}), decide anew, and append with the position read as the condition's `after`",
        after_text(*.after)
    )]
    AppendConditionFailed {
        /// The global position of the first event matching the query after `after`.
        position: u64,
        /// The condition's position, as given.
        after: Option<u64>,
        /// The log head when the condition was checked.
        head: u64,
    },
    /// An event query (of a read, or of an append's condition) that breaks the rules
    /// of a query; nothing was read or written.
    #[error("invalid event query: {reason}")]
    InvalidEventQuery {
        /// What was wrong and what to do.
        reason: String,
        /// The JSON pointer of the offending value (`/items/0/tags/1`, or within an
        /// append `/condition/failIfEventsMatch/items/0/tags/1`).
        field: Option<String>,
    },
    /// An append was refused before anything was written.
    #[error("invalid append to stream '{stream}': {reason}")]
    InvalidAppend {
        /// The stream appended to.
        stream: String,
        /// What was wrong and what to do.
        reason: String,
        /// The JSON pointer of the offending value within the append of `stream`
        /// (`/stream`, `/events/0/data/name`), when one value is to blame.
        field: Option<String>,
    },
    /// An append carries more events or bytes than one append may; nothing was written.
    #[error(
        "the append carries {value} {measure}, over the limit of {limit} {measure} per append: split it into several appends"
    )]
    AppendTooLarge {
        /// What went over: events, or bytes of type + data + metadata.
        measure: Measure,
        /// The limit.
        limit: usize,
        /// What the append carries.
        value: usize,
    },
    /// An event id given in an append is already stored, as part of a different append.
    #[error(
        "event id {event_id} is already stored at global position {position} (stream '{stored_stream}'): use a new id, or resend the original append unchanged"
    )]
    DuplicateEventId {
        /// The id given again.
        event_id: uuid::Uuid,
        /// Where it is stored.
        position: u64,
        /// The stream it is stored in.
        stored_stream: String,
    },
    /// An event given to an import is not a valid event; nothing of the import was
    /// written.
    #[error("cannot import the event at global position {position}: {reason}")]
    InvalidImport {
        /// The event's global position, as given.
        position: u64,
        /// What was wrong and what to do.
        reason: String,
    },
    /// An imported event does not continue the store's log: its global position is not
    /// the one after the head, and it is not the event already stored at its position.
    /// Nothing of the import was written.
    #[error(
        "cannot import the event at global position {position}: the store's log ends at {head}, so the next event imported must be at {next} (an event already stored at its position is skipped only when it is the same event: same id, stream and stream position); import into an empty store, or import the events that continue this store's log",
        next = .head + 1
    )]
    ImportOutOfOrder {
        /// The event's global position, as given.
        position: u64,
        /// The store's log head at that event (the events written before it in the same
        /// import included).
        head: u64,
    },
    /// An imported event's stream position is not the one after its stream's version.
    /// Nothing of the import was written.
    #[error(
        "cannot import the event at global position {position}: it is at position {stream_position} of stream '{stream}' in partition '{partition}', but that stream is at {version}, so its next event must be at {next}: import every event of the stream, in order from its first (export the whole log again)",
        next = .version + 1
    )]
    ImportStreamOutOfOrder {
        /// The event's global position, as given.
        position: u64,
        /// The partition of its stream.
        partition: String,
        /// Its stream.
        stream: String,
        /// Its stream position, as given.
        stream_position: u64,
        /// The stream's version in the store (0 when it has no events).
        version: u64,
    },
    /// An imported event's id is stored already, as another event. Nothing of the
    /// import was written.
    #[error(
        "cannot import the event at global position {position}: its id {event_id} is already stored as the event at global position {stored_at}: every event of a log has its own id, so the events imported and those stored are not one log"
    )]
    ImportIdTaken {
        /// The event's global position, as given.
        position: u64,
        /// Its id.
        event_id: uuid::Uuid,
        /// The global position of the stored event with that id.
        stored_at: u64,
    },
    /// The database was written by a newer Refold than this one.
    #[error(
        "database {path} has schema version {found}, but this Refold supports up to {supported}: upgrade Refold to open it"
    )]
    SchemaTooNew {
        /// The database file; for PostgreSQL, where the schema is
        /// (`postgres://host:port/dbname (schema NAME)`).
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A store URL (or PostgreSQL connection setting) that cannot be used.
    #[error(
        "cannot use the store '{url}': {reason}; a store is named like sqlite:refold.db or postgres://user:password@localhost:5432/refold?schema=refold"
    )]
    InvalidStoreUrl {
        /// The URL as given, without its password.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The transaction holding this write failed as a whole (e.g. the disk is full or
    /// failing); it was rolled back, so none of its writes was stored.
    #[error(
        "the store could not commit this write; nothing of it was stored: check the disk and retry"
    )]
    CommitFailed {
        /// What the database reported.
        #[source]
        source: Cause,
    },
    /// Another process held the database's write lock for longer than the store waits
    /// for it; nothing of the write was stored.
    #[error(
        "the database is locked by another process: its write lock was not free within {waited:?}, and nothing was written; retry, or open the store with a longer busy timeout"
    )]
    Locked {
        /// How long the store waited for the lock.
        waited: Duration,
    },
    /// The store's writer is gone (the store was closed or its thread failed).
    #[error("the store is closed")]
    StoreClosed,
    /// The database failed while the store did something.
    #[error("the store failed to {operation}")]
    Storage {
        /// What the store was doing, e.g. `read a stream`.
        operation: &'static str,
        /// What the database reported.
        #[source]
        source: Cause,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    // ----- command handling -----
    /// The decider refused the command; nothing was appended.
    #[error("module '{module}' rejected the command: {message}")]
    Rejected {
        /// The decider module.
        module: String,
        /// The guest's reason, for the person who sent the command.
        message: String,
    },
    /// A command refused before its decider saw it: its text is not JSON the engine
    /// takes (a lone UTF-16 surrogate, say), or its stream or partition cannot be
    /// named so. Nothing was appended.
    #[error("invalid command to module '{module}' for stream '{stream}': {reason}")]
    MalformedCommand {
        /// The decider module the command was for.
        module: String,
        /// The stream the command was for.
        stream: String,
        /// What was wrong and what to do.
        reason: String,
        /// The JSON pointer of the offending value within the command, when the
        /// command's text is to blame.
        field: Option<String>,
    },
    /// The command does not match the schema its decider declared for commands; the
    /// decider was not called and nothing was appended.
    #[error(
        "the command does not match the schema of module '{module}' at '{field}': {reason}; see GET /modules/{module}/schema"
    )]
    CommandSchemaMismatch {
        /// The decider module.
        module: String,
        /// The JSON pointer of the offending value within the command (empty: all of it).
        field: String,
        /// What is wrong there.
        reason: String,
    },
    /// The decider could not understand the command; nothing was appended.
    #[error("module '{module}' cannot read the command: {message}")]
    InvalidCommand {
        /// The decider module.
        module: String,
        /// What the guest said was wrong with it.
        message: String,
    },
    /// A command came with the id of a recorded command, but is another command (its
    /// decider, stream, command or metadata differ); nothing was decided or appended.
    #[error(
        "command id '{command_id}' in partition '{partition}' was used already for another command (to decider '{decider}'{}): resend that command unchanged to get its outcome, or give this one an id of its own",
        for_stream(stream)
    )]
    IdempotencyKeyReused {
        /// The partition the ids are unique in.
        partition: String,
        /// The id sent again.
        command_id: String,
        /// The decider of the recorded command.
        decider: String,
        /// The stream of the recorded command (empty for a query decider's command).
        stream: String,
    },
    /// Other writers changed the stream on every attempt; nothing was appended.
    #[error(
        "stream '{stream}' in partition '{partition}' changed under the command {attempts} times in a row: retry later or raise the attempt limit"
    )]
    TooManyConflicts {
        /// The partition of the stream.
        partition: String,
        /// The stream.
        stream: String,
        /// How many times the command was decided.
        attempts: u32,
    },

    // ----- wasm runtime -----
    /// Bytes that are not a WebAssembly component at all: not wasm, or a core module.
    #[error(
        "module '{module}' is not a WebAssembly component: it is {what}, where Refold expects a component built against its WIT (refold:domain); build one with `cargo build --release --target wasm32-wasip2` (Rust), componentize-py (Python) or jco (JavaScript)"
    )]
    NotAComponent {
        /// The module name given at load.
        module: String,
        /// What the bytes are instead (`an empty file`, `a core WebAssembly module`, ...).
        what: String,
    },
    /// A WebAssembly component that does not compile.
    #[error("module '{module}' is not a valid WebAssembly component")]
    InvalidModule {
        /// The module name given at load.
        module: String,
        /// What the compiler said.
        #[source]
        source: Cause,
    },
    /// A component that does not export a world Refold can run.
    #[error(
        "module '{module}' is a WebAssembly component but not a Refold module: it exports {found}, where Refold expects {expected}; build it against Refold's WIT package (refold:domain), e.g. with the Rust SDK and `cargo build --release --target wasm32-wasip2`"
    )]
    WrongWorld {
        /// The module name given at load.
        module: String,
        /// The interface Refold looked for.
        expected: String,
        /// What the component exports, comma-separated (or `nothing`).
        found: String,
    },
    /// A module asked for a capability the sandbox does not grant.
    #[error("module '{module}' cannot be instantiated in the sandbox: {reason}")]
    Unlinkable {
        /// The module.
        module: String,
        /// What it imports that is not granted.
        reason: String,
    },
    /// A guest call failed: a trap, a deadline, the memory cap, or a malformed return.
    #[error("module '{module}' failed in {function}: {fault}")]
    Guest {
        /// The module.
        module: String,
        /// The guest function called.
        function: &'static str,
        /// What went wrong.
        fault: GuestFault,
    },
    /// A module's trial call failed when it was loaded, so it did not go live; the
    /// version deployed before (if any) stays live.
    #[error(
        "module '{module}' cannot go live: its {function} failed when tried on a fresh instance ({fault}); fix the module and deploy it again (the version deployed before stays live)"
    )]
    ModuleRefused {
        /// The module.
        module: String,
        /// The guest function tried.
        function: &'static str,
        /// How it failed.
        fault: GuestFault,
    },
    /// A module name that cannot be used.
    #[error(
        "'{0}' cannot name a module: use 1 to 64 lowercase letters, digits, '-', '_' or '.', not starting with '.'"
    )]
    InvalidModuleName(String),
    /// No module of that name is deployed.
    #[error("no module named '{0}' is deployed: deploy it first (refold deploy {0} <file.wasm>)")]
    UnknownModule(String),
    /// A deploy would turn a decider into a projection or the reverse; nothing was
    /// recorded and the current version stays live.
    #[error(
        "module '{module}' is a {current} (version {version}), and this deploy is a {deployed} module: deploy it under another name, or replace the {current} on purpose (--replace-world; over HTTP ?replaceWorld=true)"
    )]
    WorldChange {
        /// The module name.
        module: String,
        /// Its current version.
        version: u64,
        /// The world it has now.
        current: String,
        /// The world of the module deployed.
        deployed: String,
    },
    /// A rollback to a version the module never had.
    #[error(
        "module '{module}' has no version {version}: its versions are 1 to {newest} (refold modules {module})"
    )]
    UnknownVersion {
        /// The module name.
        module: String,
        /// The version asked for.
        version: u64,
        /// Its newest version.
        newest: u64,
    },
    /// A rollback that would deploy the bytes that are live already.
    #[error("cannot roll module '{module}' back: {reason}")]
    NothingToRollBack {
        /// The module name.
        module: String,
        /// Why not, and what to do.
        reason: String,
    },
    /// A module was used for a world it does not implement.
    #[error("module '{module}' is a {actual} module, not a {wanted} module")]
    NotA {
        /// The module.
        module: String,
        /// The world needed.
        wanted: &'static str,
        /// The world it has.
        actual: &'static str,
    },
    /// A command with no stream was sent to a stream decider, or a query was asked of one.
    #[error(
        "module '{module}' decides commands for one stream at a time: send them to a stream (POST /commands/{module}/{{stream}})"
    )]
    NotAQueryDecider {
        /// The module.
        module: String,
    },
    /// A command for a stream was sent to a query decider, whose boundary is a query.
    #[error(
        "module '{module}' is a query decider: its commands name no stream (POST /commands/{module}); the streams of its events are its own choice"
    )]
    NotAStreamDecider {
        /// The module.
        module: String,
    },
    /// An upcaster reads an event type another deployed upcaster reads already; it was
    /// not deployed.
    #[error(
        "upcaster '{module}' reads '{event_type}', which upcaster '{other}' reads already: one stored type has one upcaster (fold the two into one module, or have one read the other's output type)"
    )]
    UpcasterOverlap {
        /// The upcaster refused.
        module: String,
        /// The deployed upcaster that reads the type.
        other: String,
        /// The type both read.
        event_type: String,
    },
    /// Upcasters hand an event back to an earlier upcaster of its chain.
    #[error(
        "upcasters {} form a cycle: the last made '{event_type}', which an earlier one reads; make the newest shape a type no upcaster reads", modules.join(" -> ")
    )]
    UpcastCycle {
        /// The chain of upcasters, in the order they applied.
        modules: Vec<String>,
        /// The type the last one made.
        event_type: String,
    },
    /// The runtime could not be set up.
    #[error("cannot set up the wasm runtime")]
    Runtime(#[source] Cause),

    // ----- workflows -----
    /// No workflow of that name is deployed.
    #[error("no workflow named '{0}' is deployed: deploy its module first")]
    UnknownWorkflow(String),
    /// A workflow could not handle an input: its stream holds what it cannot read, or
    /// one input set off more steps than a workflow may take.
    #[error("workflow '{workflow}': {message}")]
    Workflow {
        /// The workflow (or the instance stream at fault).
        workflow: String,
        /// What was wrong, and what to do.
        message: String,
    },

    // ----- projections -----
    /// No projection of that name is deployed (or stored in the database).
    #[error("no projection named '{0}' is deployed: deploy its module first")]
    UnknownProjection(String),
    /// A projection stopped at an event it could not apply (policy `stop`).
    #[error(
        "projection '{projection}' is stopped at the event at global position {position}: {error}; deploy a fixed module to resume there, or use the `skip` policy"
    )]
    ProjectionFaulted {
        /// The projection.
        projection: String,
        /// Global position of the event that failed.
        position: u64,
        /// Why it failed.
        error: String,
    },
    /// A projection did not reach a position in time.
    #[error(
        "projection '{projection}' reached global position {checkpoint} ({state}), not {position}, within {timeout:?}: it is behind; wait longer or check its status"
    )]
    ProjectionTimeout {
        /// The projection.
        projection: String,
        /// The position waited for.
        position: u64,
        /// How far it got.
        checkpoint: u64,
        /// What it was doing (`catching-up`, `live`, ...).
        state: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// A wait for a global position the log has not reached: it may never be reached,
    /// so the wait is refused at once.
    #[error(
        "global position {position} is beyond the log's head ({head}): wait for a position a command or an append returned"
    )]
    BeyondHead {
        /// The position asked for.
        position: u64,
        /// The log's head, read from the store when asked.
        head: u64,
    },
    /// A read-model query that cannot be served.
    #[error("invalid read-model query: {0}")]
    InvalidQuery(String),
    /// A decider's state is not UTF-8 JSON, so it cannot be a read-model document.
    #[error(
        "module '{module}' encodes the state of stream '{stream}' as something other than UTF-8 JSON ({reason}): a snapshot projection needs JSON states, the Rust SDK's default"
    )]
    StateNotJson {
        /// The decider module.
        module: String,
        /// The stream whose state it is.
        stream: String,
        /// What is wrong with it.
        reason: String,
    },

    // ----- process -----
    /// A thread the engine needs could not be started.
    #[error("cannot start the thread {name}")]
    Thread {
        /// The thread's name, e.g. `refold-projection-cart-summary`.
        name: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Work was cancelled because the engine's async runtime is shutting down.
    #[error("the engine is shutting down: the call was cancelled")]
    Cancelled,
    /// The HTTP server stopped with an error of its listener.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
}

/// How a guest call failed. Each leaves the host serving; the instance is discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestFault {
    /// The call ran past its CPU deadline and was interrupted.
    #[error("ran past its deadline of {0:?} and was stopped")]
    Deadline(Duration),
    /// The guest tried to grow its memory past the cap.
    #[error("tried to use more than the {limit}-byte memory limit (asked for {requested} bytes)")]
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
        /// What the guest asked for in total, in bytes.
        requested: usize,
    },
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access...).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest returned something the contract does not allow.
    #[error("returned a malformed value: {0}")]
    Malformed(String),
    /// The guest returned more than one call may hand back (events or bytes); the host
    /// stopped reading it and kept none of it.
    #[error("returned {}, over the limit of {limit} {measure} one call may return", returned(*.value, *.measure, *.limit))]
    OutputTooLarge {
        /// What went over.
        measure: Measure,
        /// The limit.
        limit: usize,
        /// What the guest returned, when the host read far enough to count it.
        value: Option<usize>,
    },
    /// A projection put a document the host does not take: not a JSON object, over
    /// the size limit of one document, or past the bytes one event may write.
    #[error("wrote a document the host does not take: {0}")]
    Document(String),
    /// The guest reported an error of its own (e.g. `evolve` could not fold an event).
    #[error("reported an error: {0}")]
    Reported(String),
}

impl GuestFault {
    /// The kind of fault, as `/metrics` labels it: `deadline`, `memory-limit`, `trap`,
    /// `malformed`, `output-too-large`, `document` or `reported`.
    pub fn kind(&self) -> &'static str {
        match self {
            GuestFault::Deadline(_) => "deadline",
            GuestFault::MemoryLimit { .. } => "memory-limit",
            GuestFault::Trap(_) => "trap",
            GuestFault::Malformed(_) => "malformed",
            GuestFault::OutputTooLarge { .. } => "output-too-large",
            GuestFault::Document(_) => "document",
            GuestFault::Reported(_) => "reported",
        }
    }
}

/// Where a failed condition looked from: after a position, or the whole log.
fn after_text(after: Option<u64>) -> String {
    match after {
        Some(after) => format!(" and comes after the condition's position {after}"),
        None => " (the condition counts every event, having no `after`)".to_owned(),
    }
}

/// What a guest returned over a limit, as far as the host counted it.
fn returned(value: Option<usize>, measure: Measure, limit: usize) -> String {
    match value {
        Some(value) => format!("{value} {measure}"),
        None => format!("more than {limit} {measure} (the host stopped reading at the limit)"),
    }
}

/// ` for stream 'S'`, or nothing for a command that names no stream (a query
/// decider's).
fn for_stream(stream: &str) -> String {
    if stream.is_empty() {
        String::new()
    } else {
        format!(" for stream '{stream}'")
    }
}
