//! Projections: the read side, from the global log to queryable documents.
//!
//! [`ProjectionEngine`] runs every deployed projection on its own thread (see
//! `runner`): it reads the log after the projection's checkpoint in batches, only the
//! event types the projection declares, applies them through the projection's logic,
//! and commits the documents it wrote together with the new checkpoint in one
//! transaction ([`ProjectionStore::commit`](crate::store::ProjectionStore::commit)), so
//! an event is applied exactly once however the process stops. Caught up, it tails the
//! log live. One slow or failing projection holds up neither the others nor the write
//! side.
//!
//! The logic is anything implementing [`ProjectionLogic`]: a projection [`Module`]
//! (wasm), a [`NativeProjection`] (the same Rust compiled into the host, for
//! benchmarks), or [`StreamSnapshots`], which keeps each stream's state as a decider's
//! own `evolve` folds it.
//!
//! Deploying another version of a projection rebuilds its read model from position 0
//! beside the old one (blue/green): queries keep reading the old documents until the
//! new ones have caught up, then one transaction switches them over and the old ones
//! are dropped. A projection that stopped at an event it could not apply (policy
//! [`FailurePolicy::Stop`]) resumes at that event when the process restarts or a fixed
//! version is deployed. [`ProjectionEngine::wait_for`] lets a writer read its own
//! writes: it returns once the projection has passed a global position.
//!
//! The parts: `engine` (the facade and its slots), `plan` (what a deploy does, as a pure
//! function), `runner` (a generation's thread), `overlay` (a batch's documents),
//! `status` (what a projection reports), `logic` and `snapshot` (what a runner drives).
//!
//! [`Module`]: crate::runtime::Module

mod engine;
mod logic;
mod overlay;
mod plan;
mod runner;
mod snapshot;
mod status;

pub use crate::store::{Document, FailurePolicy, FieldFilter, ListQuery, Page};
pub use engine::ProjectionEngine;
pub use logic::{NativeProjection, ProjectionLogic};
pub use snapshot::StreamSnapshots;
pub use status::{GenerationStatus, ProjectionConfig, ProjectionState, ProjectionStatus, Runner};
