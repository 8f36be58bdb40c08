//! Refold: an event-sourcing engine whose domain logic runs as sandboxed WebAssembly
//! components.
//!
//! The engine owns storage, ordering, concurrency and durability; guests own the
//! business rules. The parts, and the types that carry them:
//!
//! - [`store`]: the [`EventStore`](store::EventStore) contract and its SQLite
//!   implementation, [`SqliteStore`](store::SqliteStore). Appends are guarded by an
//!   [`ExpectedVersion`](store::ExpectedVersion) and committed in groups by one writer.
//! - [`runtime`]: one wasmtime engine, modules compiled once (and cached on disk by
//!   content hash), warm instances, a CPU deadline and a memory cap on every call, and
//!   a registry where deploying a new version swaps it in atomically.
//! - [`commands`]: the [`CommandHandler`](commands::CommandHandler) loads a stream's
//!   state, asks the decider's `decide`, and appends under the version it decided on.
//! - [`projections`]: the [`ProjectionEngine`](projections::ProjectionEngine) folds the
//!   global log into read-model documents in the store's file, each projection on its
//!   own thread, its documents and checkpoint committed together; queries read them,
//!   and [`wait_for`](projections::ProjectionEngine::wait_for) lets a writer read its
//!   own writes.
//! - [`engine`]: the [`Engine`](engine::Engine) runs all of these over one database
//!   file; deployed modules are recorded there, so a restart comes back with the same
//!   modules and versions.
//! - [`http`]: the HTTP API over an engine ([`serve`](http::serve)), with live events
//!   as server-sent events.
//! - [`views`]: the JSON shapes of events, outcomes and pages, as the API and the
//!   `refold` command line show them.
//! - [`harness`]: given/when/then tests for guest modules, run through the same
//!   [`Runtime`](runtime::Runtime): [`DeciderSpec`](harness::DeciderSpec) and
//!   [`ProjectionSpec`](harness::ProjectionSpec) from Rust, [`SpecFile`](harness::SpecFile)
//!   for YAML specs (what `refold test` runs).
//!
//! Guest modules implement the WIT worlds in the repository's `wit/` folder; the
//! `refold-guest` crate lets a Rust author implement them with plain traits.
#![deny(unsafe_code)]

pub mod commands;
pub mod engine;
mod error;
pub mod harness;
pub mod http;
pub mod projections;
pub mod runtime;
pub mod store;
pub mod views;

pub use error::{Error, GuestFault, Result};
