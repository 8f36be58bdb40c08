//! A loaded module version and its warm instances.
//!
//! A [`Module`] holds the component pre-instantiated against the sandbox's linker
//! (`*Pre`), so making an instance is cheap, and a small pool of idle instances so
//! most calls make none. Every call takes an instance, sets its CPU deadline and how
//! much it may copy out (wasmtime's hostcall fuel), calls, and puts the instance back,
//! unless the call faulted: a faulted instance is dropped and the next call gets a
//! fresh one. Wasm memory never shrinks, so an instance that grew past
//! [`PoolConfig::instance_memory`](super::PoolConfig) is dropped too, and the idle
//! instances of a version never hold more than [`PoolConfig::memory`](super::PoolConfig)
//! together.
//!
//! What a `decide` returns is bounded while wasmtime copies it out of the guest: the
//! copy may take the bytes of [`AppendLimits`] plus each event's host-side record, and
//! stops (a [`GuestFault::OutputTooLarge`]) when a guest returns more, before the host
//! holds it all; the exact counts and the JSON checks come after, on what was copied.

use super::Documents;
use super::bindings::{
    DecideError, DeciderContext, Event, NewEvent, Query, UpcastEvent, WorkflowInput, WorkflowStep,
    decider, projection, query_decider, schemas, upcaster, v1, workflow,
};
use super::sandbox::{HostState, call_seed};
use super::schemas::{Schemas, embedded};
use super::{Contract, Limits, World};
use crate::json_schema::JsonSchema;
use crate::store::AppendLimits;
use crate::sync::lock;
use crate::{Error, GuestFault, Result};
use prometheus_client::metrics::histogram::Histogram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::Store;

/// What a `decide` may copy out besides its events' bytes: room for a rejection's text.
const DECIDE_SLACK: usize = 64 << 10;

/// What identifies a module version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleInfo {
    /// The name it is deployed under, e.g. `cart`.
    pub name: String,
    /// Its version under that name: 1 for the first deploy, then 2, 3... (0 until deployed).
    pub version: u64,
    /// Hex SHA-256 of its bytes.
    pub hash: String,
    /// Which world it implements.
    pub world: World,
    /// Size of the component, in bytes.
    pub size: usize,
    /// The version of the WIT package it was built against.
    #[serde(default)]
    pub contract: Contract,
}

/// The idle instances of a module version at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Instances kept warm.
    pub idle: usize,
    /// Their linear memory together, in bytes.
    pub memory: usize,
}

/// One module version, ready to call.
pub struct Module {
    pub(crate) info: ModuleInfo,
    limits: Limits,
    instances_created: AtomicU64,
    calls: AtomicU64,
    /// Seconds of each call, in the runtime's histogram of this module's name.
    call_seconds: Histogram,
    call_nanos: AtomicU64,
    in_flight: AtomicU64,
    kind: Kind,
    schemas: Schemas,
}

enum Kind {
    Decider(Deciders),
    Projection {
        pool: Either<projection::ProjectionModule, v1::projection::ProjectionModule>,
        event_types: Vec<String>,
        query: Option<crate::store::Query>,
    },
    Upcaster {
        pool: Pool<upcaster::UpcasterModule>,
        event_types: Vec<String>,
    },
    Workflow {
        pool: Pool<workflow::WorkflowModule>,
        event_types: Vec<String>,
    },
}

/// A decider's instances: a stream or a query decider of the current contract, or a
/// 0.1.0 decider.
pub(crate) enum Deciders {
    Stream(Pool<decider::DeciderModule>),
    Query(Pool<query_decider::QueryDeciderModule>),
    V1(Pool<v1::decider::DeciderModule>),
}

impl Deciders {
    fn stats(&self) -> PoolStats {
        match self {
            Deciders::Stream(pool) => pool.stats(),
            Deciders::Query(pool) => pool.stats(),
            Deciders::V1(pool) => pool.stats(),
        }
    }
}

/// The same call on the decider pools of the current contract (the `decider` and
/// `query-decider` interfaces share `initial-state`, `evolve` and `decide`): `$body`,
/// given the exported interface as `$i`, is written once and compiled for each one's
/// bindings. `$legacy` is what a 0.1.0 decider's pool `$v1` does instead.
macro_rules! on_deciders {
    ($self:ident, $function:expr, $copy:expr, |$i:ident, $store:ident| $body:expr, |$v1:ident| $legacy:expr) => {
        match $self.deciders()? {
            Deciders::Stream(pool) => $self.call(pool, $function, $copy, |b, $store| {
                let $i = b.refold_domain_decider();
                $body
            }),
            Deciders::Query(pool) => $self.call(pool, $function, $copy, |b, $store| {
                let $i = b.refold_domain_query_decider();
                $body
            }),
            Deciders::V1($v1) => $legacy,
        }
    };
}

/// A world's instances under the current contract or under 0.1.0.
pub(crate) enum Either<Current: Instantiate, V1: Instantiate> {
    Current(Pool<Current>),
    V1(Pool<V1>),
}

impl<C: Instantiate, V: Instantiate> Either<C, V> {
    fn stats(&self) -> PoolStats {
        match self {
            Either::Current(pool) => pool.stats(),
            Either::V1(pool) => pool.stats(),
        }
    }
}

/// The pre-instantiated form of a world's bindings and its idle instances.
pub(crate) struct Pool<B: Instantiate> {
    pre: B::Pre,
    idle: Mutex<Idle<B>>,
}

/// Idle instances and the linear memory they hold together.
struct Idle<B> {
    instances: Vec<Instance<B>>,
    memory: usize,
}

struct Instance<B> {
    store: Store<HostState>,
    bindings: B,
}

impl<B> Instance<B> {
    /// Linear memory the instance holds, all its memories together.
    fn memory(&self) -> usize {
        self.store.data().limiter.in_use()
    }
}

/// How each world's bindings are instantiated from their `*Pre`.
pub(crate) trait Instantiate: Sized {
    type Pre;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
}

/// `Instantiate` for the bindings of each world, under both contracts.
macro_rules! instantiate {
    ($($bindings:ty => $pre:ty),* $(,)?) => {
        $(
            impl Instantiate for $bindings {
                type Pre = $pre;
                fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
                    pre.instantiate(store)
                }
            }
        )*
    };
}

instantiate! {
    decider::DeciderModule => decider::DeciderModulePre<HostState>,
    projection::ProjectionModule => projection::ProjectionModulePre<HostState>,
    upcaster::UpcasterModule => upcaster::UpcasterModulePre<HostState>,
    workflow::WorkflowModule => workflow::WorkflowModulePre<HostState>,
    query_decider::QueryDeciderModule => query_decider::QueryDeciderModulePre<HostState>,
    schemas::SchemasModule => schemas::SchemasModulePre<HostState>,
    v1::decider::DeciderModule => v1::decider::DeciderModulePre<HostState>,
    v1::projection::ProjectionModule => v1::projection::ProjectionModulePre<HostState>,
}

/// The same call on a pool of either contract: `$body` is written once and compiled
/// for each contract's bindings (the generated functions have the same names).
macro_rules! on_either {
    ($self:ident, $pool:expr, $function:expr, $copy:expr, |$b:ident, $store:ident| $body:expr) => {
        match $pool {
            Either::Current(pool) => $self.call(pool, $function, $copy, |$b, $store| $body),
            Either::V1(pool) => $self.call(pool, $function, $copy, |$b, $store| $body),
        }
    };
}

impl Module {
    /// A decider module; tries its `initial-state` once on a fresh instance.
    pub(crate) fn new_decider(info: ModuleInfo, limits: Limits, pool: Deciders) -> Result<Self> {
        let module = Module::of_kind(info, limits, Kind::Decider(pool));
        module.initial_state().map_err(refused)?;
        Ok(module)
    }

    /// A module of `kind` that has made no instance and no call yet.
    fn of_kind(info: ModuleInfo, limits: Limits, kind: Kind) -> Self {
        let call_seconds = limits
            .metrics
            .call_seconds
            .get_or_create(&vec![("module", info.name.clone())])
            .clone();
        Module {
            call_seconds,
            info,
            limits,
            instances_created: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            call_nanos: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            kind,
            schemas: Schemas::default(),
        }
    }

    /// A projection module; asks the guest once, on a fresh instance, for the event
    /// types it wants.
    pub(crate) fn new_projection(
        info: ModuleInfo,
        limits: Limits,
        pool: Either<projection::ProjectionModule, v1::projection::ProjectionModule>,
    ) -> Result<Self> {
        let mut module = Module::of_kind(
            info,
            limits,
            Kind::Projection {
                pool,
                event_types: Vec::new(),
                query: None,
            },
        );
        let seed = module.seed("event-types", &[]);
        let Kind::Projection { pool, .. } = &module.kind else {
            unreachable!("made as a projection just above")
        };
        let wanted = on_either!(
            module,
            pool,
            "event-types",
            module.limits.memory_limit,
            |p, store| {
                store.data().seed_random(seed);
                p.refold_domain_projection().call_event_types(store)
            }
        )
        .map_err(refused)?;
        let asked = match pool {
            Either::Current(pool) => module
                .call(
                    pool,
                    "event-query",
                    module.limits.memory_limit,
                    |p, store| {
                        store.data().seed_random(seed);
                        p.refold_domain_projection().call_event_query(store)
                    },
                )
                .map_err(refused)?,
            Either::V1(_) => None,
        };
        if asked.is_some() && !wanted.is_empty() {
            return Err(Error::ModuleRefused {
                module: module.info.name.clone(),
                function: "event-query",
                fault: GuestFault::Malformed(format!(
                    "the projection declares both event types ({}) and a query; declare one (a query's items name their types)",
                    wanted.join(", ")
                )),
            });
        }
        if let Kind::Projection {
            event_types, query, ..
        } = &mut module.kind
        {
            *event_types = wanted;
            *query = asked.map(crate::store::Query::from);
        }
        Ok(module)
    }

    /// An upcaster module; asks the guest once, on a fresh instance, for the event
    /// types it reads, which must not be empty.
    pub(crate) fn new_upcaster(
        info: ModuleInfo,
        limits: Limits,
        pool: Pool<upcaster::UpcasterModule>,
    ) -> Result<Self> {
        let mut module = Module::of_kind(
            info,
            limits,
            Kind::Upcaster {
                pool,
                event_types: Vec::new(),
            },
        );
        let seed = module.seed("event-types", &[]);
        let Kind::Upcaster { pool, .. } = &module.kind else {
            unreachable!("made as an upcaster just above")
        };
        let read = module
            .call(
                pool,
                "event-types",
                module.limits.memory_limit,
                |u, store| {
                    store.data().seed_random(seed);
                    u.refold_domain_upcaster().call_event_types(store)
                },
            )
            .map_err(refused)?;
        module.check_declared(
            &read,
            "an upcaster must name the stored event types it reads",
        )?;
        if let Kind::Upcaster { event_types, .. } = &mut module.kind {
            *event_types = read;
        }
        Ok(module)
    }

    /// A workflow module; asks the guest once, on a fresh instance, for the event types
    /// it reacts to (which must not be empty) and tries its `initial-state`.
    pub(crate) fn new_workflow(
        info: ModuleInfo,
        limits: Limits,
        pool: Pool<workflow::WorkflowModule>,
    ) -> Result<Self> {
        let mut module = Module::of_kind(
            info,
            limits,
            Kind::Workflow {
                pool,
                event_types: Vec::new(),
            },
        );
        let seed = module.seed("event-types", &[]);
        let read = module
            .call(
                module.workflows()?,
                "event-types",
                module.limits.memory_limit,
                |w, store| {
                    store.data().seed_random(seed);
                    w.refold_domain_workflow().call_event_types(store)
                },
            )
            .map_err(refused)?;
        module.check_declared(&read, "a workflow must name the event types it reacts to")?;
        module.workflow_initial_state().map_err(refused)?;
        if let Kind::Workflow { event_types, .. } = &mut module.kind {
            *event_types = read;
        }
        Ok(module)
    }

    /// Refuse a module whose declared event types are none, or include an empty name.
    fn check_declared(&self, declared: &[String], rule: &str) -> Result<()> {
        if declared.is_empty() || declared.iter().any(|t| t.trim().is_empty()) {
            return Err(refused(self.fault(
                "event-types",
                GuestFault::Malformed(format!("{rule} (none, or an empty name, was given)")),
            )));
        }
        Ok(())
    }

    /// The module's name, version, hash and world.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The schemas the module declared for its commands and events (none: unchecked).
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// Check `command` (JSON text, as `decide` gets it) against the module's command
    /// schema, if it declared one: [`Error::CommandSchemaMismatch`] naming the field
    /// if it does not match. No guest call is made.
    pub fn check_command(&self, command: &str) -> Result<()> {
        let Some(schema) = &self.schemas.commands else {
            return Ok(());
        };
        let value: serde_json::Value =
            serde_json::from_str(command).map_err(|e| Error::CommandSchemaMismatch {
                module: self.info.name.clone(),
                field: String::new(),
                reason: format!("the command is not JSON: {e}"),
            })?;
        schema
            .check(&value)
            .map_err(|miss| Error::CommandSchemaMismatch {
                module: self.info.name.clone(),
                field: miss.pointer,
                reason: miss.reason,
            })
    }

    /// The module, with the schemas its `schemas` export answers (asked once, on a
    /// fresh instance); a fault, or an answer that is no schema, refuses the module.
    pub(crate) fn described_by_export(
        mut self,
        pool: Pool<schemas::SchemasModule>,
    ) -> Result<Self> {
        let limit = self.limits.memory_limit;
        let commands = self
            .call(&pool, "commands", limit, |s, store| {
                s.refold_domain_schemas().call_commands(store)
            })
            .map_err(refused)?;
        let events = self
            .call(&pool, "events", limit, |s, store| {
                s.refold_domain_schemas().call_events(store)
            })
            .map_err(refused)?;
        let parse = |function: &'static str, text: Option<String>| {
            text.map(|text| JsonSchema::parse(&text))
                .transpose()
                .map_err(|reason| refused(self.fault(function, GuestFault::Malformed(reason))))
        };
        self.schemas = Schemas {
            commands: parse("commands", commands)?,
            events: parse("events", events)?,
        };
        Ok(self)
    }

    /// The module, with the schema document embedded in its component `bytes`, if
    /// any; a document that cannot be read refuses the module.
    pub(crate) fn described_by_section(mut self, bytes: &[u8]) -> Result<Self> {
        let Some(document) = embedded(bytes) else {
            return Ok(self);
        };
        let read = std::str::from_utf8(document)
            .map_err(|_| "the schema document is not UTF-8 text".to_owned())
            .and_then(Schemas::from_document);
        match read {
            Ok(schemas) => {
                self.schemas = schemas;
                Ok(self)
            }
            Err(reason) => Err(refused(self.fault(
                "schemas",
                GuestFault::Malformed(format!(
                    "the schema document embedded in the component cannot be used: {reason}"
                )),
            ))),
        }
    }

    /// Instances made so far for this module version (a fault or a cold pool makes one).
    pub fn instances_created(&self) -> u64 {
        self.instances_created.load(Ordering::Relaxed)
    }

    /// Guest calls made on this module version so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Guest calls running on this module version at this moment: counted from just
    /// before the guest is entered until it returns (or faults). One atomic add and one
    /// subtract per call; a swap deploys a new version while this drains to 0 on the old.
    pub fn calls_in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The instances this module version keeps warm now.
    pub fn pool_stats(&self) -> PoolStats {
        match &self.kind {
            Kind::Decider(pool) => pool.stats(),
            Kind::Projection { pool, .. } => pool.stats(),
            Kind::Upcaster { pool, .. } => pool.stats(),
            Kind::Workflow { pool, .. } => pool.stats(),
        }
    }

    /// Time spent in guest calls on this module version so far.
    pub fn call_time(&self) -> Duration {
        Duration::from_nanos(self.call_nanos.load(Ordering::Relaxed))
    }

    /// The encoded state of a stream with no events.
    pub fn initial_state(&self) -> Result<Vec<u8>> {
        let seed = self.seed("initial-state", &[]);
        let copy_limit = self.limits.memory_limit;
        on_deciders!(
            self,
            "initial-state",
            copy_limit,
            |d, store| {
                store.data().seed_random(seed);
                d.call_initial_state(store)
            },
            |pool| self.call(pool, "initial-state", copy_limit, |d, store| {
                store.data().seed_random(seed);
                d.refold_domain_decider().call_initial_state(store)
            })
        )
    }

    /// Fold `events` into `state` with the guest's `evolve`, in one call. Its random
    /// numbers are seeded by the first event's id and stream position.
    pub fn evolve(&self, state: &[u8], events: &[Event]) -> Result<Vec<u8>> {
        let first = events
            .first()
            .map(|e| (e.event_id.as_str(), e.stream_position));
        let seed = self.seed_by_event("evolve", first);
        let copy_limit = self.limits.memory_limit;
        let result = on_deciders!(
            self,
            "evolve",
            copy_limit,
            |d, store| {
                store.data().seed_random(seed);
                d.call_evolve(store, state, events)
            },
            |pool| {
                let events: Vec<v1::Event> = events.iter().map(v1::Event::from).collect();
                self.call(pool, "evolve", copy_limit, |d, store| {
                    store.data().seed_random(seed);
                    d.refold_domain_decider().call_evolve(store, state, &events)
                })
            }
        )?;
        result.map_err(|message| self.fault("evolve", GuestFault::Reported(message)))
    }

    /// Ask the guest's `decide` what `command` means given `state`, with an empty
    /// context: no stream, the default partition, version 0, no metadata. What a test
    /// of the logic alone calls; the command handler calls [`decide_in`](Self::decide_in).
    pub fn decide(
        &self,
        state: &[u8],
        command: &str,
    ) -> Result<Result<Vec<NewEvent>, DecideError>> {
        let context = DeciderContext {
            stream_id: None,
            partition: crate::store::DEFAULT_PARTITION.to_owned(),
            version: 0,
            metadata: "{}".to_owned(),
        };
        self.decide_in(&context, state, command)
    }

    /// Ask the guest's `decide` what `command` means given `state` and `context`.
    /// The outer error is a fault; the inner one is the guest's answer that no events
    /// follow. Returned events are checked: within the decide limits (while they are
    /// copied out, then exactly), a non-empty type, JSON objects for data and metadata.
    /// Its random numbers are seeded by the context's stream, partition and version,
    /// the state and the command: two streams in the same state given the same command
    /// draw different ones (different ids, say), and a retry of the same decision the
    /// same. A module built against 0.1.0 is called without the context.
    pub fn decide_in(
        &self,
        context: &DeciderContext,
        state: &[u8],
        command: &str,
    ) -> Result<Result<Vec<NewEvent>, DecideError>> {
        let seed = self.seed(
            "decide",
            &[
                context.partition.as_bytes(),
                context.stream_id.as_deref().unwrap_or_default().as_bytes(),
                &context.version.to_le_bytes(),
                state,
                command.as_bytes(),
            ],
        );
        let limits = self.limits.decide_limits;
        let copy_limit = decide_copy_limit(&limits);
        let decided = on_deciders!(
            self,
            "decide",
            copy_limit,
            |d, store| {
                store.data().seed_random(seed);
                d.call_decide(store, context, state, command)
            },
            |pool| self
                .call(pool, "decide", copy_limit, |d, store| {
                    store.data().seed_random(seed);
                    d.refold_domain_decider().call_decide(store, state, command)
                })
                .map(|decided| decided
                    .map(|events| events.into_iter().map(NewEvent::from).collect())
                    .map_err(DecideError::from))
        )?;
        if let Ok(events) = &decided {
            let bytes = events.iter().map(new_event_size).sum();
            if let Some((measure, limit, value)) = limits.exceeded(events.len(), bytes) {
                return Err(self.fault(
                    "decide",
                    GuestFault::OutputTooLarge {
                        measure,
                        limit,
                        value: Some(value),
                    },
                ));
            }
            for (index, event) in events.iter().enumerate() {
                check_new_event(event).map_err(|problem| {
                    self.fault(
                        "decide",
                        GuestFault::Malformed(format!("event {index}: {problem}")),
                    )
                })?;
            }
        }
        Ok(decided)
    }

    /// Whether this decider's consistency boundary is a query over tagged events (it
    /// exports `query-decider`) rather than one stream.
    pub fn is_query_decider(&self) -> bool {
        matches!(self.kind, Kind::Decider(Deciders::Query(_)))
    }

    /// The query `command` (in `partition`) depends on, from a query decider's
    /// `query-for`: the events to fold before deciding, and the append condition after.
    /// The outer error is a fault (or this module is no query decider); the inner one
    /// the guest's answer that the command is invalid or refused. Its random numbers are
    /// seeded by the partition and the command.
    pub fn query_for(&self, partition: &str, command: &str) -> Result<Result<Query, DecideError>> {
        let Kind::Decider(Deciders::Query(pool)) = &self.kind else {
            return Err(Error::NotAQueryDecider {
                module: self.info.name.clone(),
            });
        };
        let seed = self.seed("query-for", &[partition.as_bytes(), command.as_bytes()]);
        self.call(pool, "query-for", self.limits.memory_limit, |d, store| {
            store.data().seed_random(seed);
            d.refold_domain_query_decider()
                .call_query_for(store, partition, command)
        })
    }

    /// The query a projection module selects its events by, if it declares one
    /// instead of event types.
    pub fn projection_query(&self) -> Option<&crate::store::Query> {
        match &self.kind {
            Kind::Projection { query, .. } => query.as_ref(),
            _ => None,
        }
    }

    /// The event types a projection module wants (empty: all), the stored event
    /// types an upcaster module reads, or those a workflow module reacts to.
    pub fn event_types(&self) -> Result<&[String]> {
        match &self.kind {
            Kind::Projection { event_types, .. }
            | Kind::Upcaster { event_types, .. }
            | Kind::Workflow { event_types, .. } => Ok(event_types),
            Kind::Decider(_) => Err(self.not_a(World::Projection)),
        }
    }

    /// A workflow's state before an instance's first input (a JSON value, as text).
    pub fn workflow_initial_state(&self) -> Result<String> {
        let seed = self.seed("initial-state", &[]);
        let state = self.call(
            self.workflows()?,
            "initial-state",
            self.limits.memory_limit,
            |w, store| {
                store.data().seed_random(seed);
                w.refold_domain_workflow().call_initial_state(store)
            },
        )?;
        check_json("initial-state", &state)
            .map_err(|problem| self.fault("initial-state", GuestFault::Malformed(problem)))?;
        Ok(state)
    }

    /// The workflow instance `event` belongs to, if any, from the guest's
    /// `instance-of`. Its random numbers are seeded by the event's id and position.
    pub fn instance_of(&self, event: &Event) -> Result<Option<String>> {
        let seed = self.seed_by_event(
            "instance-of",
            Some((event.event_id.as_str(), event.global_position)),
        );
        let instance = self
            .call(
                self.workflows()?,
                "instance-of",
                self.limits.memory_limit,
                |w, store| {
                    store.data().seed_random(seed);
                    w.refold_domain_workflow().call_instance_of(store, event)
                },
            )?
            .map_err(|message| self.fault("instance-of", GuestFault::Reported(message)))?;
        if instance.as_deref().is_some_and(|i| i.trim().is_empty()) {
            return Err(self.fault(
                "instance-of",
                GuestFault::Malformed("the instance id is empty".to_owned()),
            ));
        }
        Ok(instance)
    }

    /// What the workflow instance `instance` in `state` does with `input`, from the
    /// guest's `handle`: its new state (checked to be JSON), the commands to send
    /// (checked to name a decider and to be JSON objects), and whether it is finished.
    /// Its random numbers are seeded by the instance, the state and the input's kind.
    pub fn handle(
        &self,
        instance: &str,
        state: &str,
        input: &WorkflowInput,
    ) -> Result<WorkflowStep> {
        let kind: &[u8] = match input {
            WorkflowInput::Event(event) => event.event_id.as_bytes(),
            WorkflowInput::Outcome(outcome) => outcome.command.command.as_bytes(),
        };
        let seed = self.seed("handle", &[instance.as_bytes(), state.as_bytes(), kind]);
        let step = self
            .call(
                self.workflows()?,
                "handle",
                self.limits.memory_limit,
                |w, store| {
                    store.data().seed_random(seed);
                    w.refold_domain_workflow()
                        .call_handle(store, instance, state, input)
                },
            )?
            .map_err(|message| self.fault("handle", GuestFault::Reported(message)))?;
        let malformed = |problem: String| self.fault("handle", GuestFault::Malformed(problem));
        check_json("the state", &step.state).map_err(malformed)?;
        for (index, command) in step.commands.iter().enumerate() {
            if command.decider.trim().is_empty() {
                return Err(malformed(format!("command {index} names no decider")));
            }
            check_json_object(&format!("command {index}"), &command.command).map_err(malformed)?;
        }
        Ok(step)
    }

    /// The workflow instances, or the error that this module is not a workflow.
    fn workflows(&self) -> Result<&Pool<workflow::WorkflowModule>> {
        match &self.kind {
            Kind::Workflow { pool, .. } => Ok(pool),
            _ => Err(self.not_a(World::Workflow)),
        }
    }

    /// Apply `events` with the guest's `apply`, reading and writing `documents`. Its
    /// random numbers are seeded by the first event's id and global position.
    pub fn apply(&self, events: &[Event], documents: &mut Box<dyn Documents>) -> Result<()> {
        let first = events
            .first()
            .map(|e| (e.event_id.as_str(), e.global_position));
        let seed = self.seed_by_event("apply", first);
        let Kind::Projection { pool, .. } = &self.kind else {
            return Err(self.not_a(World::Projection));
        };
        let copy_limit = self.limits.memory_limit;
        let result = match pool {
            Either::Current(pool) => self.call(pool, "apply", copy_limit, |p, store| {
                store.data().seed_random(seed);
                with_documents(store, documents, |store| {
                    p.refold_domain_projection().call_apply(store, events)
                })
            }),
            Either::V1(pool) => {
                let events: Vec<v1::Event> = events.iter().map(v1::Event::from).collect();
                self.call(pool, "apply", copy_limit, |p, store| {
                    store.data().seed_random(seed);
                    with_documents(store, documents, |store| {
                        p.refold_domain_projection().call_apply(store, &events)
                    })
                })
            }
        }?;
        result.map_err(|message| self.fault("apply", GuestFault::Reported(message)))
    }

    /// The current shape of each of `events` (stored events of the types this upcaster
    /// reads), one list per event, with the guest's `upcast`. The guest must answer
    /// one list per event and JSON objects for data and metadata. Its random numbers
    /// are seeded by the first event's id and global position.
    pub fn upcast(&self, events: &[Event]) -> Result<Vec<Vec<UpcastEvent>>> {
        let Kind::Upcaster { pool, .. } = &self.kind else {
            return Err(self.not_a(World::Upcaster));
        };
        let first = events
            .first()
            .map(|e| (e.event_id.as_str(), e.global_position));
        let seed = self.seed_by_event("upcast", first);
        let upcast = self
            .call(pool, "upcast", self.limits.memory_limit, |u, store| {
                store.data().seed_random(seed);
                u.refold_domain_upcaster().call_upcast(store, events)
            })?
            .map_err(|message| self.fault("upcast", GuestFault::Reported(message)))?;
        if upcast.len() != events.len() {
            return Err(self.fault(
                "upcast",
                GuestFault::Malformed(format!(
                    "upcast must answer one list per event: {} events were given, {} lists returned",
                    events.len(),
                    upcast.len()
                )),
            ));
        }
        for (index, event) in upcast.iter().flatten().enumerate() {
            check_upcast_event(event).map_err(|problem| {
                self.fault(
                    "upcast",
                    GuestFault::Malformed(format!("upcast event {index}: {problem}")),
                )
            })?;
        }
        Ok(upcast)
    }

    /// The seed of a call of `function` on `input` (see the sandbox's `call_seed`).
    fn seed(&self, function: &str, input: &[&[u8]]) -> [u8; 32] {
        call_seed(&self.info.hash, function, input)
    }

    /// The seed of a call of `function` on a batch whose first event has this id and
    /// position (none: an empty batch).
    fn seed_by_event(&self, function: &str, first: Option<(&str, u64)>) -> [u8; 32] {
        match first {
            Some((id, position)) => self.seed(function, &[id.as_bytes(), &position.to_le_bytes()]),
            None => self.seed(function, &[]),
        }
    }

    fn fault(&self, function: &'static str, fault: GuestFault) -> Error {
        self.limits
            .metrics
            .faults
            .get_or_create(&vec![
                ("module", self.info.name.clone()),
                ("kind", fault.kind().to_owned()),
            ])
            .inc();
        Error::Guest {
            module: self.info.name.clone(),
            function,
            fault,
        }
    }

    fn not_a(&self, wanted: World) -> Error {
        Error::NotA {
            module: self.info.name.clone(),
            wanted: wanted.name(),
            actual: self.info.world.name(),
        }
    }

    /// The decider instances, or the error that this module is not a decider.
    fn deciders(&self) -> Result<&Deciders> {
        match &self.kind {
            Kind::Decider(pool) => Ok(pool),
            _ => Err(self.not_a(World::Decider)),
        }
    }

    /// Run one guest call on a warm (or new) instance under the module's limits, the
    /// guest copying out at most `copy_limit` bytes (what it returns, and what it passes
    /// to each host function it calls).
    fn call<B: Instantiate, R>(
        &self,
        pool: &Pool<B>,
        function: &'static str,
        copy_limit: usize,
        call: impl FnOnce(&B, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let _call = tracing::info_span!("guest call", module = %self.info.name, function).entered();
        let idle = pool.take();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.instantiate(pool)?,
        };
        instance
            .store
            .set_epoch_deadline(self.limits.deadline_ticks());
        instance.store.set_hostcall_fuel(copy_limit);
        instance.store.data().clear_stderr();
        let started = Instant::now();
        let in_flight = InFlight::enter(&self.in_flight);
        let result = call(&instance.bindings, &mut instance.store);
        drop(in_flight);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let took = started.elapsed();
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.call_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.call_seconds.observe(took.as_secs_f64());
        match result {
            Ok(result) => {
                pool.keep(instance, &self.limits.pool);
                Ok(result)
            }
            Err(error) => {
                let fault =
                    instance
                        .store
                        .data()
                        .fault(&error, self.limits.call_timeout, copy_limit);
                // The caller reports the fault; its backtrace is for debugging.
                tracing::debug!(module = %self.info.name, version = self.info.version, function, error = %format!("{error:?}"), "guest call failed; its instance is discarded");
                Err(self.fault(function, fault))
            }
        }
    }

    fn instantiate<B: Instantiate>(&self, pool: &Pool<B>) -> Result<Instance<B>> {
        let engine = self.limits.engine.clone();
        let mut store = Store::new(
            &engine,
            HostState::new(&self.info.name, self.limits.memory_limit),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.limits.deadline_ticks());
        store.epoch_deadline_trap();
        self.instances_created.fetch_add(1, Ordering::Relaxed);
        match B::instantiate(&pool.pre, &mut store) {
            Ok(bindings) => Ok(Instance { store, bindings }),
            Err(error) => {
                let fault =
                    store
                        .data()
                        .fault(&error, self.limits.call_timeout, self.limits.memory_limit);
                Err(self.fault("instantiate", fault))
            }
        }
    }
}

/// Run `call` with `documents` as the store's documents, and give them back after.
fn with_documents<R>(
    store: &mut Store<HostState>,
    documents: &mut Box<dyn Documents>,
    call: impl FnOnce(&mut Store<HostState>) -> R,
) -> R {
    std::mem::swap(&mut store.data_mut().documents, documents);
    let result = call(store);
    std::mem::swap(&mut store.data_mut().documents, documents);
    result
}

/// One call counted in [`Module::calls_in_flight`] while it lives, even if the call
/// unwinds.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicU64) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<B: Instantiate> Pool<B> {
    /// A pool with no idle instances yet.
    pub(crate) fn new(pre: B::Pre) -> Self {
        Pool {
            pre,
            idle: Mutex::new(Idle {
                instances: Vec::new(),
                memory: 0,
            }),
        }
    }

    fn stats(&self) -> PoolStats {
        let idle = lock(&self.idle);
        PoolStats {
            idle: idle.instances.len(),
            memory: idle.memory,
        }
    }

    /// An idle instance, if one is kept.
    fn take(&self) -> Option<Instance<B>> {
        let mut idle = lock(&self.idle);
        let instance = idle.instances.pop()?;
        idle.memory -= instance.memory();
        Some(instance)
    }

    /// Keep `instance` for the next call if it is small enough and the pool has room;
    /// otherwise drop it, which gives its memory back.
    fn keep(&self, instance: Instance<B>, config: &super::PoolConfig) {
        let memory = instance.memory();
        let mut idle = lock(&self.idle);
        if memory <= config.instance_memory
            && idle.instances.len() < config.max_idle
            && idle.memory + memory <= config.memory
        {
            idle.memory += memory;
            idle.instances.push(instance);
        } else {
            drop(idle);
            tracing::debug!(memory, "instance not kept: over the pool's memory bounds");
        }
    }
}

/// Turn the fault of a module's trial call at load into the refusal to deploy it.
fn refused(error: Error) -> Error {
    match error {
        Error::Guest {
            module,
            function,
            fault,
        } => Error::ModuleRefused {
            module,
            function,
            fault,
        },
        other => other,
    }
}

/// What a `decide` may copy out of the guest: the bytes its events may have, each
/// event's host-side record (the copy counts those too), and room for a rejection.
fn decide_copy_limit(limits: &AppendLimits) -> usize {
    limits
        .max_bytes
        .saturating_add(limits.max_events.saturating_mul(size_of::<NewEvent>()))
        .saturating_add(DECIDE_SLACK)
}

/// Bytes of a decided event as an append counts them (metadata `{}` when absent).
fn new_event_size(event: &NewEvent) -> usize {
    let metadata = event.metadata.as_ref().map_or(2, String::len);
    event.event_type.len() + event.data.len() + metadata
}

/// What a returned event must satisfy before the host takes it.
fn check_new_event(event: &NewEvent) -> std::result::Result<(), String> {
    check_shape(&event.event_type, &event.data, event.metadata.as_deref())
}

/// What an upcast event must satisfy before a reader sees it.
fn check_upcast_event(event: &UpcastEvent) -> std::result::Result<(), String> {
    check_shape(&event.event_type, &event.data, event.metadata.as_deref())
}

/// A non-empty type, JSON objects for data and (if given) metadata.
fn check_shape(
    event_type: &str,
    data: &str,
    metadata: Option<&str>,
) -> std::result::Result<(), String> {
    if event_type.trim().is_empty() {
        return Err("the event type is empty".to_owned());
    }
    check_json_object("data", data)?;
    if let Some(metadata) = metadata {
        check_json_object("metadata", metadata)?;
    }
    Ok(())
}

/// Text that must be one JSON value (of any kind).
fn check_json(what: &str, text: &str) -> std::result::Result<(), String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|error| format!("{what} is not JSON ({error}): {}", truncate(text)))
}

fn check_json_object(what: &str, text: &str) -> std::result::Result<(), String> {
    use crate::json::NotAnObject;
    crate::json::check_object(text).map_err(|problem| match problem {
        NotAnObject::NotJson(error) => format!("{what} is not JSON ({error}): {}", truncate(text)),
        NotAnObject::OtherJson => format!("{what} is JSON but not an object: {}", truncate(text)),
    })
}

fn truncate(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Deadline granularity: how often the epoch advances.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
