//! Write Refold deciders and projections in plain Rust.
//!
//! A guest author describes a domain with serde types and implements one trait:
//! [`Decider`] for the write side (fold events into state, decide what a command
//! means), [`QueryDecider`] for rules that span entities (a decider whose boundary is
//! a query over tagged events), [`Projection`] for the read side (fold events into read-model
//! documents), [`Upcaster`] for event evolution (read old event shapes as current
//! ones), or [`Workflow`] for durable processes that send commands. One macro,
//! [`export_decider!`], [`export_projection!`], [`export_upcaster!`] or
//! [`export_workflow!`], turns the implementation into a WebAssembly component the
//! Refold engine can deploy. No WIT
//! knowledge is needed; the generated bindings stay hidden.
//!
//! The same implementation also runs natively: the functions in [`wire`] are exactly
//! what the exported component runs, so unit tests and benchmarks can call the logic
//! without wasm.
//!
//! Events use serde's *adjacently tagged* representation: the enum variant is the
//! event type and its fields are the event's JSON data.
//!
//! Inside the engine a guest's clock is fixed, sleeping returns at once, and random
//! numbers (what `uuid::Uuid::new_v4()` draws) are seeded per call from the module,
//! the function and the call's input: the same decision made again draws the same
//! numbers, another decision others. Keep randomness in `decide`, whose events store
//! what it made; a projection's `put` takes JSON objects only (the SDK's `ReadModel`
//! writes nothing else).
//!
//! # Example
//!
//! ```
//! use refold_guest::{Context, Decider, Rejection};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Default)]
//! pub struct Counter { value: i64 }
//!
//! #[derive(Deserialize)]
//! #[serde(tag = "type", content = "data")]
//! pub enum Command { Add { amount: i64 } }
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(tag = "type", content = "data")]
//! pub enum Event { Added { amount: i64 } }
//!
//! pub struct CounterDecider;
//!
//! impl Decider for CounterDecider {
//!     type State = Counter;
//!     type Command = Command;
//!     type Event = Event;
//!
//!     fn initial_state() -> Counter { Counter::default() }
//!
//!     fn evolve(mut state: Counter, event: Event) -> Counter {
//!         match event { Event::Added { amount } => state.value += amount }
//!         state
//!     }
//!
//!     fn decide(command: Command, state: &Counter, _: &Context) -> Result<Vec<Event>, Rejection> {
//!         match command {
//!             Command::Add { amount } if state.value + amount > 100 => {
//!                 Err(Rejection::new(format!("the counter would pass 100 (it is {})", state.value)))
//!             }
//!             Command::Add { amount } => Ok(vec![Event::Added { amount }]),
//!         }
//!     }
//! }
//!
//! // In a crate built with `cargo build --target wasm32-wasip2`, this exports the
//! // component's `decider` interface; on other targets it expands to nothing.
//! refold_guest::export_decider!(CounterDecider);
//!
//! // The same logic, natively, through the functions the component runs:
//! let state = refold_guest::wire::initial_state::<CounterDecider>();
//! let events = refold_guest::wire::decide::<CounterDecider>(
//!     &Context::default(),
//!     &state,
//!     r#"{"type":"Add","data":{"amount":5}}"#,
//! ).unwrap();
//! assert_eq!(events[0].event_type, "Added");
//! assert_eq!(events[0].data, r#"{"amount":5}"#);
//! ```

mod decider;
mod documents;
mod event;
mod projection;
mod query_decider;
#[cfg(feature = "schemas")]
pub mod schemas;
mod upcaster;
pub mod wire;
mod workflow;

/// The schemars crate the `schemas` feature derives JSON Schemas with: derive
/// `refold_guest::schemars::JsonSchema` on commands and events.
#[cfg(feature = "schemas")]
pub use schemars;

#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod __export;

pub use decider::{Decider, Rejection};
pub use documents::{Documents, ReadModel};
pub use event::{Context, DecideError, Event, NewEvent, UpcastEvent};
pub use projection::Projection;
pub use query_decider::{Query, QueryDecider, QueryItem, Tagged};
pub use upcaster::Upcaster;
pub use workflow::{Outcome, SendCommand, Step, Workflow, WorkflowInput, WorkflowStep};

/// Exports a [`Decider`] implementation as the component's `decider` interface.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. On any
/// other target it expands to nothing, so the same crate can be used natively.
///
/// `export_decider!(D, schemas)` (feature `schemas`) also exports the JSON Schemas
/// of `D::Command` and `D::Event`, which must derive `schemars::JsonSchema`: the
/// engine checks every command against its schema before `decide` sees it.
#[macro_export]
macro_rules! export_decider {
    ($decider:ty, schemas) => {
        $crate::export_decider!($decider);
        $crate::__export_schemas!(
            <$decider as $crate::Decider>::Command,
            <$decider as $crate::Decider>::Event
        );
    };
    ($decider:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldDeciderExport = $crate::__export::DeciderExport<$decider>;
            $crate::__export::decider_bindings::export_decider_world!(
                RefoldDeciderExport with_types_in $crate::__export::decider_bindings
            );
        };
    };
}

/// Exports a [`Projection`] implementation as the component's `projection` interface.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. On any
/// other target it expands to nothing, so the same crate can be used natively.
#[macro_export]
macro_rules! export_projection {
    ($projection:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldProjectionExport = $crate::__export::ProjectionExport<$projection>;
            $crate::__export::projection_bindings::export_projection_world!(
                RefoldProjectionExport with_types_in $crate::__export::projection_bindings
            );
        };
    };
}

/// Exports a [`QueryDecider`] implementation as the component's `query-decider`
/// interface (the `query-decider-module` world).
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. On any
/// other target it expands to nothing, so the same crate can be used natively.
/// `export_query_decider!(D, schemas)` also exports its schemas, as
/// [`export_decider!`] does.
#[macro_export]
macro_rules! export_query_decider {
    ($decider:ty, schemas) => {
        $crate::export_query_decider!($decider);
        $crate::__export_schemas!(
            <$decider as $crate::QueryDecider>::Command,
            <$decider as $crate::QueryDecider>::Event
        );
    };
    ($decider:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldQueryDeciderExport = $crate::__export::QueryDeciderExport<$decider>;
            $crate::__export::query_decider_bindings::export_query_decider_world!(
                RefoldQueryDeciderExport with_types_in $crate::__export::query_decider_bindings
            );
        };
    };
}

/// Exports an [`Upcaster`] implementation as the component's `upcaster` interface.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. On any
/// other target it expands to nothing, so the same crate can be used natively.
#[macro_export]
macro_rules! export_upcaster {
    ($upcaster:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldUpcasterExport = $crate::__export::UpcasterExport<$upcaster>;
            $crate::__export::upcaster_bindings::export_upcaster_world!(
                RefoldUpcasterExport with_types_in $crate::__export::upcaster_bindings
            );
        };
    };
}

/// Exports a [`Workflow`] implementation as the component's `workflow` interface (the
/// `workflow-module` world).
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. On any
/// other target it expands to nothing, so the same crate can be used natively.
#[macro_export]
macro_rules! export_workflow {
    ($workflow:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldWorkflowExport = $crate::__export::WorkflowExport<$workflow>;
            $crate::__export::workflow_bindings::export_workflow_world!(
                RefoldWorkflowExport with_types_in $crate::__export::workflow_bindings
            );
        };
    };
}

/// Exports the `schemas` interface answering with the JSON Schemas of `$command` and
/// `$event`; used by the export macros' `schemas` form.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_schemas {
    ($command:ty, $event:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type RefoldSchemasExport = $crate::__export::SchemasExport<$command, $event>;
            $crate::__export::schemas_bindings::export_schemas_world!(
                RefoldSchemasExport with_types_in $crate::__export::schemas_bindings
            );
        };
    };
}
