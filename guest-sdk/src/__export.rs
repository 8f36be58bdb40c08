//! The glue between the generated WIT bindings and the traits, used by the export
//! macros. Not part of the public API.

use crate::{Decider, Documents, Projection, QueryDecider, Upcaster, Workflow};
use std::marker::PhantomData;

/// Bindings for the `decider-module` world.
pub mod decider_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/decider-module",
        pub_export_macro: true,
        export_macro_name: "export_decider_world",
        default_bindings_module: "refold_guest::__export::decider_bindings",
    });
}

/// Bindings for the `projection-module` world.
pub mod projection_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/projection-module",
        pub_export_macro: true,
        export_macro_name: "export_projection_world",
        default_bindings_module: "refold_guest::__export::projection_bindings",
    });
}

/// Bindings for the `query-decider-module` world.
pub mod query_decider_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/query-decider-module",
        pub_export_macro: true,
        export_macro_name: "export_query_decider_world",
        default_bindings_module: "refold_guest::__export::query_decider_bindings",
    });
}

/// Bindings for the `upcaster-module` world.
pub mod upcaster_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/upcaster-module",
        pub_export_macro: true,
        export_macro_name: "export_upcaster_world",
        default_bindings_module: "refold_guest::__export::upcaster_bindings",
    });
}

/// Bindings for the `workflow-module` world.
pub mod workflow_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/workflow-module",
        pub_export_macro: true,
        export_macro_name: "export_workflow_world",
        default_bindings_module: "refold_guest::__export::workflow_bindings",
    });
}

/// Bindings for the `schemas-module` world: merged by the component tooling with the
/// world of the module's other export.
#[cfg(feature = "schemas")]
pub mod schemas_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "refold:domain/schemas-module",
        pub_export_macro: true,
        export_macro_name: "export_schemas_world",
        default_bindings_module: "refold_guest::__export::schemas_bindings",
    });
}

/// Implements the exported `schemas` interface from the serde types of a decider.
#[cfg(feature = "schemas")]
pub struct SchemasExport<C, E>(PhantomData<(C, E)>);

#[cfg(feature = "schemas")]
impl<C: schemars::JsonSchema + 'static, E: schemars::JsonSchema + 'static>
    schemas_bindings::exports::refold::domain::schemas::Guest for SchemasExport<C, E>
{
    fn commands() -> Option<String> {
        Some(crate::schemas::schema_of::<C>())
    }

    fn events() -> Option<String> {
        Some(crate::schemas::schema_of::<E>())
    }
}

use decider_bindings::exports::refold::domain::decider as wit_decider;
use projection_bindings::exports::refold::domain::projection as wit_projection;
use projection_bindings::refold::domain::documents as wit_documents;
use query_decider_bindings::exports::refold::domain::query_decider as wit_query_decider;
use upcaster_bindings::exports::refold::domain::upcaster as wit_upcaster;
use workflow_bindings::exports::refold::domain::workflow as wit_workflow;

/// A [`Query`](crate::Query) as the `query` record of the bindings module `$bindings`
/// (each world's bindings have their own copy of the record).
macro_rules! query_to_wit {
    ($bindings:ident, $query:expr) => {
        $bindings::refold::domain::types::Query {
            items: $query
                .items
                .into_iter()
                .map(|item| $bindings::refold::domain::types::QueryItem {
                    types: item.types,
                    tags: item.tags,
                })
                .collect(),
        }
    };
}

/// The `decider` interface's `decide` answer, for the bindings module `$wit` (stream
/// and query deciders export the same interface from two worlds).
macro_rules! decided_to_wit {
    ($wit:ident, $decided:expr) => {
        match $decided {
            Ok(events) => Ok(events
                .into_iter()
                .map(|e| $wit::NewEvent {
                    event_type: e.event_type,
                    data: e.data,
                    metadata: e.metadata,
                    stream_id: e.stream_id,
                    tags: e.tags,
                })
                .collect()),
            Err(crate::DecideError::Rejected(m)) => Err($wit::DecideError::Rejected(m)),
            Err(crate::DecideError::InvalidCommand(m)) => Err($wit::DecideError::InvalidCommand(m)),
        }
    };
}

/// The SDK's context of a decision, from the WIT record of the bindings module `$wit`.
macro_rules! context_from_wit {
    ($context:expr) => {{
        let context = $context;
        crate::Context {
            stream_id: context.stream_id,
            partition: context.partition,
            version: context.version,
            metadata: context.metadata,
        }
    }};
}

/// Implements the exported `decider` interface for any [`Decider`].
pub struct DeciderExport<D>(PhantomData<D>);

impl<D: Decider + 'static> wit_decider::Guest for DeciderExport<D> {
    fn initial_state() -> Vec<u8> {
        crate::wire::initial_state::<D>()
    }

    fn evolve(state: Vec<u8>, events: Vec<wit_decider::Event>) -> Result<Vec<u8>, String> {
        let events: Vec<crate::Event> = events.into_iter().map(from_decider_event).collect();
        crate::wire::evolve::<D>(&state, &events)
    }

    fn decide(
        context: wit_decider::DeciderContext,
        state: Vec<u8>,
        command: String,
    ) -> Result<Vec<wit_decider::NewEvent>, wit_decider::DecideError> {
        let context = context_from_wit!(context);
        decided_to_wit!(
            wit_decider,
            crate::wire::decide::<D>(&context, &state, &command)
        )
    }
}

/// Implements the exported `query-decider` interface for any [`QueryDecider`].
pub struct QueryDeciderExport<D>(PhantomData<D>);

impl<D: QueryDecider + 'static> wit_query_decider::Guest for QueryDeciderExport<D> {
    fn initial_state() -> Vec<u8> {
        crate::wire::query_initial_state::<D>()
    }

    fn evolve(state: Vec<u8>, events: Vec<wit_query_decider::Event>) -> Result<Vec<u8>, String> {
        let events: Vec<crate::Event> = events.into_iter().map(from_query_decider_event).collect();
        crate::wire::query_evolve::<D>(&state, &events)
    }

    fn decide(
        context: wit_query_decider::DeciderContext,
        state: Vec<u8>,
        command: String,
    ) -> Result<Vec<wit_query_decider::NewEvent>, wit_query_decider::DecideError> {
        let context = context_from_wit!(context);
        decided_to_wit!(
            wit_query_decider,
            crate::wire::query_decide::<D>(&context, &state, &command)
        )
    }

    fn query_for(
        _partition: String,
        command: String,
    ) -> Result<wit_query_decider::Query, wit_query_decider::DecideError> {
        match crate::wire::query_for::<D>(&command) {
            Ok(query) => Ok(query_to_wit!(query_decider_bindings, query)),
            Err(crate::DecideError::Rejected(m)) => {
                Err(wit_query_decider::DecideError::Rejected(m))
            }
            Err(crate::DecideError::InvalidCommand(m)) => {
                Err(wit_query_decider::DecideError::InvalidCommand(m))
            }
        }
    }
}

/// Implements the exported `projection` interface for any [`Projection`].
pub struct ProjectionExport<P>(PhantomData<P>);

impl<P: Projection + 'static> wit_projection::Guest for ProjectionExport<P> {
    fn event_types() -> Vec<String> {
        crate::wire::event_types::<P>()
    }

    fn event_query() -> Option<wit_projection::Query> {
        P::query().map(|query| query_to_wit!(projection_bindings, query))
    }

    fn apply(events: Vec<wit_projection::Event>) -> Result<(), String> {
        let events: Vec<crate::Event> = events.into_iter().map(from_projection_event).collect();
        crate::wire::apply::<P>(&events, &mut HostDocuments)
    }
}

/// Implements the exported `upcaster` interface for any [`Upcaster`].
pub struct UpcasterExport<U>(PhantomData<U>);

impl<U: Upcaster + 'static> wit_upcaster::Guest for UpcasterExport<U> {
    fn event_types() -> Vec<String> {
        crate::wire::upcast_event_types::<U>()
    }

    fn upcast(
        events: Vec<wit_upcaster::Event>,
    ) -> Result<Vec<Vec<wit_upcaster::UpcastEvent>>, String> {
        let events: Vec<crate::Event> = events.into_iter().map(from_upcaster_event).collect();
        let upcast = crate::wire::upcast::<U>(&events)?;
        Ok(upcast
            .into_iter()
            .map(|current| {
                current
                    .into_iter()
                    .map(|e| wit_upcaster::UpcastEvent {
                        event_type: e.event_type,
                        data: e.data,
                        metadata: e.metadata,
                    })
                    .collect()
            })
            .collect())
    }
}

/// Implements the exported `workflow` interface for any [`Workflow`].
pub struct WorkflowExport<W>(PhantomData<W>);

impl<W: Workflow + 'static> wit_workflow::Guest for WorkflowExport<W> {
    fn event_types() -> Vec<String> {
        crate::wire::workflow_event_types::<W>()
    }

    fn initial_state() -> String {
        crate::wire::workflow_initial_state::<W>()
    }

    fn instance_of(event: wit_workflow::Event) -> Result<Option<String>, String> {
        crate::wire::instance_of::<W>(&from_workflow_event(event))
    }

    fn handle(
        instance: String,
        state: String,
        input: wit_workflow::WorkflowInput,
    ) -> Result<wit_workflow::WorkflowStep, String> {
        let input = match input {
            wit_workflow::WorkflowInput::Event(event) => {
                crate::WorkflowInput::Event(from_workflow_event(event))
            }
            wit_workflow::WorkflowInput::Outcome(outcome) => {
                crate::WorkflowInput::Outcome(crate::Outcome {
                    command: command_from_wit(outcome.command),
                    result: match outcome.reply {
                        wit_workflow::CommandResult::Accepted(events) => {
                            Ok(events.into_iter().map(from_workflow_event).collect())
                        }
                        wit_workflow::CommandResult::Rejected(reason) => Err(reason),
                    },
                })
            }
        };
        let step = crate::wire::handle::<W>(&instance, &state, input)?;
        Ok(wit_workflow::WorkflowStep {
            state: step.state,
            commands: step
                .commands
                .into_iter()
                .map(|c| wit_workflow::WorkflowCommand {
                    decider: c.decider,
                    stream_id: c.stream_id,
                    command: c.command,
                    delay_ms: c.delay_ms,
                })
                .collect(),
            finished: step.finished,
        })
    }
}

fn command_from_wit(command: wit_workflow::WorkflowCommand) -> crate::SendCommand {
    crate::SendCommand {
        decider: command.decider,
        stream_id: command.stream_id,
        command: command.command,
        delay_ms: command.delay_ms,
    }
}

/// The engine's documents, reached through the `documents` import.
struct HostDocuments;

impl Documents for HostDocuments {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        wit_documents::get(collection, id)
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        wit_documents::put(collection, id, &document);
    }

    fn delete(&mut self, collection: &str, id: &str) {
        wit_documents::delete(collection, id);
    }
}

macro_rules! event_from_wit {
    ($name:ident, $ty:ty) => {
        fn $name(e: $ty) -> crate::Event {
            crate::Event {
                event_type: e.event_type,
                data: e.data,
                metadata: e.metadata,
                stream_id: e.stream_id,
                stream_position: e.stream_position,
                global_position: e.global_position,
                event_id: e.event_id,
                recorded_at: e.recorded_at,
                partition: e.partition,
                tags: e.tags,
            }
        }
    };
}

event_from_wit!(from_decider_event, wit_decider::Event);
event_from_wit!(from_projection_event, wit_projection::Event);
event_from_wit!(from_upcaster_event, wit_upcaster::Event);
event_from_wit!(from_query_decider_event, wit_query_decider::Event);
event_from_wit!(from_workflow_event, wit_workflow::Event);
