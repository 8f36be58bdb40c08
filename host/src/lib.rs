//! Refold: an event-sourcing engine whose domain logic runs as sandboxed WebAssembly
//! components.
//!
//! The engine owns storage, ordering, concurrency and durability; guests own the
//! business rules. The parts, and the types that carry them:
//!
//! - [`store`]: everything the engine keeps, behind the async traits
//!   [`EventStore`](store::EventStore), [`ProjectionStore`](store::ProjectionStore),
//!   [`ModuleStore`](store::ModuleStore) and [`LeaseStore`](store::LeaseStore), bundled
//!   as a [`Storage`](store::Storage); the SQLite backend
//!   ([`store::sqlite`]) implements them all on one file, the PostgreSQL backend
//!   ([`store::postgres`]) on one schema that several nodes share, and a
//!   [`StoreUrl`](store::StoreUrl) (`sqlite:<path>`, `postgres://…`) names which.
//!   Appends are guarded by an [`ExpectedVersion`](store::ExpectedVersion) and
//!   committed in groups; [`import`](store::EventStore::import) copies another store's
//!   log exactly. Events may carry tags: a [`Query`](store::Query) of types and tags
//!   reads across streams, and an [`AppendCondition`](store::AppendCondition) refuses
//!   an append when events matching its query were stored since a position (the
//!   Dynamic Consistency Boundary).
//! - [`runtime`]: one wasmtime engine, modules compiled once (and cached on disk by
//!   content hash), warm instances bounded by memory ([`PoolConfig`](runtime::PoolConfig)),
//!   a CPU deadline, a memory cap and a bound on what `decide` returns on every call
//!   ([`RuntimeConfig`](runtime::RuntimeConfig)), and a registry where deploying a new
//!   version, tried once first, swaps it in atomically.
//! - [`commands`]: the [`CommandHandler`](commands::CommandHandler) loads a stream's
//!   state, asks the decider's `decide`, folds the decided events with `evolve`, and
//!   only then appends them under the version it decided on. A
//!   [`CommandRequest`](commands::CommandRequest) sent with an id happens once: a
//!   resend gets the recorded outcome. Every event carries the command's metadata
//!   (`metadata.refold`: command, correlation and causation ids).
//! - [`projections`]: the [`ProjectionEngine`](projections::ProjectionEngine) folds the
//!   global log into read-model documents in the store's file, each projection on its
//!   own thread, its documents and checkpoint committed together; queries read them,
//!   and [`wait_for`](projections::ProjectionEngine::wait_for) lets a writer read its
//!   own writes.
//! - [`upcasting`]: the deployed upcasters as one set, applied on every read for
//!   logic or users, so old stored shapes are read in their current shape.
//! - [`engine`]: the [`Engine`](engine::Engine) runs all of these over one database;
//!   deployed modules are recorded there, so a restart comes back with the same
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
//! Embedding it: open an engine on a database file (or, with
//! [`EngineConfig::for_store`](engine::EngineConfig::for_store), on any store URL),
//! deploy a module, send a command.
//! The API is async (tokio); guest calls run on tokio's blocking pool.
//!
//! ```no_run
//! use refold::engine::{Engine, EngineConfig};
//! use refold::projections::FailurePolicy;
//! use refold::store::DEFAULT_PARTITION;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::open(EngineConfig::new("refold.db")).await?;
//! engine
//!     .deploy("cart", &std::fs::read("cart.wasm")?, FailurePolicy::Stop)
//!     .await?;
//! let command = r#"{"type":"OpenCart","data":{"cartId":"cart-1"}}"#;
//! let outcome = engine
//!     .commands()
//!     .handle("cart", DEFAULT_PARTITION, "cart-1", command)
//!     .await?;
//! println!("cart-1 is at version {}", outcome.stream_version);
//! # Ok(())
//! # }
//! ```
//!
//! Guest modules implement the WIT worlds in the repository's `wit/` folder; the
//! `refold-guest` crate lets a Rust author implement them with plain traits.
#![deny(unsafe_code)]

pub mod commands;
pub mod engine;
mod error;
mod failpoint;
pub mod harness;
pub mod http;
mod json;
pub mod json_schema;
pub mod metrics;
pub mod projections;
pub mod remote_parent;
pub mod runtime;
pub mod store;
mod sync;
pub mod upcasting;
mod version;
pub mod views;
pub mod workflows;

pub use error::{Cause, Error, GuestFault, Result, chain};
