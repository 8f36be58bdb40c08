//! The wasm runtime: where guest modules are compiled, sandboxed and called.
//!
//! One [`Runtime`] owns one wasmtime `Engine` (component model, epoch interruption),
//! a cache of compiled components so each module is compiled once, and the registry of
//! deployed modules by name. [`Runtime::load`] compiles (or finds) a component and
//! checks which world it implements; [`Runtime::deploy`] makes it the current version
//! of its name. Callers hold an `Arc<Module>`, so deploying a new version never
//! disturbs a call in flight: it finishes on the version it started on, and the next
//! [`Runtime::module`] lookup returns the new one.
//!
//! Every call runs under the limits of [`RuntimeConfig`]: a CPU deadline enforced by
//! epoch interruption and a cap on linear memory. A fault becomes [`crate::Error::Guest`]
//! for that call alone; the host keeps serving.

mod bindings;
mod cache;
mod module;
mod sandbox;
mod schemas;
mod sniff;

pub use bindings::{
    CommandOutcome, CommandResult, DecideError, DeciderContext, Event, NewEvent, Query, QueryItem,
    UpcastEvent, WorkflowCommand, WorkflowInput, WorkflowStep,
};
pub use cache::{CacheStats, content_hash};
pub use module::{Module, ModuleInfo, PoolStats};
pub use sandbox::Documents;
pub use schemas::{SECTION as SCHEMAS_SECTION, Schemas, embed as embed_schemas};

use crate::metrics::GuestMetrics;
use crate::store::AppendLimits;
use crate::upcasting::Upcasters;
use crate::{Error, Result, sync};
use cache::ComponentCache;
use module::{Deciders, EPOCH_TICK, Either, Pool};
use sandbox::HostState;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

/// The worlds of the WIT package a module can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Exports `refold:domain/decider`: write-side logic.
    Decider,
    /// Exports `refold:domain/projection`: read-side logic.
    Projection,
    /// Exports `refold:domain/upcaster`: old event shapes into current ones.
    Upcaster,
    /// Exports `refold:domain/workflow`: a durable process sending commands.
    Workflow,
}

impl World {
    /// Every world, in the order a component's exports are matched against them.
    pub const ALL: [World; 4] = [
        World::Decider,
        World::Projection,
        World::Upcaster,
        World::Workflow,
    ];

    /// The interface a module of this world exports, without its package version.
    pub fn interface(self) -> &'static str {
        match self {
            World::Decider => "refold:domain/decider",
            World::Projection => "refold:domain/projection",
            World::Upcaster => "refold:domain/upcaster",
            World::Workflow => "refold:domain/workflow",
        }
    }

    /// The world's short name.
    pub fn name(self) -> &'static str {
        match self {
            World::Decider => "decider",
            World::Projection => "projection",
            World::Upcaster => "upcaster",
            World::Workflow => "workflow",
        }
    }

    /// The world named `name` (as [`name`](Self::name) spells it).
    pub fn from_name(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|world| world.name() == name)
    }
}

/// The version of the WIT package a module was built against. The engine loads both;
/// a module of the older contract is called without what it does not know (the
/// decider context, tags).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Contract {
    /// `refold:domain@0.1.0`: deciders and projections, as first released.
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `refold:domain@0.2.0`, the current contract.
    #[default]
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl Contract {
    /// The package version, e.g. `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// Which worlds a module of this contract may implement.
    fn worlds(self) -> &'static [World] {
        match self {
            Contract::V0_1 => &[World::Decider, World::Projection],
            Contract::V0_2 => &World::ALL,
        }
    }
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// CPU time one guest call may take before it is interrupted.
    pub call_timeout: Duration,
    /// Linear memory one instance may use, all its memories together, in bytes. Also
    /// what one call may copy between guest and host (wasmtime's hostcall fuel), so any
    /// state that fits in the memory can be handed back.
    pub memory_limit: usize,
    /// The most one `decide` may return: its events are one append.
    pub decide_limits: AppendLimits,
    /// How many idle instances, and how much of their memory, each module version keeps.
    pub pool: PoolConfig,
    /// Where precompiled artifacts are kept across restarts (none: memory only).
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    /// One second per call and 256 MiB per instance: room for Python and JavaScript
    /// guests (tens of MB each) while a runaway guest is stopped quickly.
    fn default() -> Self {
        RuntimeConfig {
            call_timeout: Duration::from_secs(1),
            memory_limit: 256 << 20,
            decide_limits: AppendLimits::default(),
            pool: PoolConfig::default(),
            cache_dir: None,
        }
    }
}

/// What a module version keeps of its instances between calls. Wasm memory never
/// shrinks, so an instance that once grew keeps its memory for as long as it lives:
/// these bounds say which instances are worth keeping warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Idle instances kept per module version. Default: 16.
    pub max_idle: usize,
    /// An instance whose linear memory grew past this many bytes is dropped after its
    /// call, not kept. Default: 64 MiB (a Python or JavaScript guest's instance fits).
    pub instance_memory: usize,
    /// Linear memory of all the idle instances of one module version together, in
    /// bytes. Default: 256 MiB.
    pub memory: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_idle: 16,
            instance_memory: 64 << 20,
            memory: 256 << 20,
        }
    }
}

/// The limits every call of a module runs under.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) engine: Engine,
    pub(crate) call_timeout: Duration,
    pub(crate) memory_limit: usize,
    pub(crate) decide_limits: AppendLimits,
    pub(crate) pool: PoolConfig,
    /// Where guest calls and faults are counted.
    pub(crate) metrics: Arc<GuestMetrics>,
}

impl Limits {
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let ticks = self.call_timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

/// Compiles, sandboxes, registers and calls guest modules.
pub struct Runtime {
    engine: Engine,
    decider_linker: Linker<HostState>,
    projection_linker: Linker<HostState>,
    cache: ComponentCache,
    config: RuntimeConfig,
    deployed: RwLock<HashMap<String, Arc<Module>>>,
    upcasters: Arc<Upcasters>,
    ticking: Arc<AtomicBool>,
    metrics: Arc<GuestMetrics>,
}

impl Runtime {
    /// A runtime with its own engine and epoch ticker thread.
    pub fn new(config: RuntimeConfig) -> Result<Runtime> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&wasm).map_err(wasm_error)?;

        let mut decider_linker = Linker::new(&engine);
        sandbox::add_to_linker(&mut decider_linker).map_err(wasm_error)?;
        let mut projection_linker = decider_linker.clone();
        bindings::projection::ProjectionModule::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut projection_linker, |state| state)
        .map_err(wasm_error)?;
        bindings::v1::projection::ProjectionModule::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut projection_linker, |state| state)
        .map_err(wasm_error)?;

        let cache = ComponentCache::new(&engine, config.cache_dir.clone())?;
        let ticking = Arc::new(AtomicBool::new(true));
        spawn_epoch_ticker(engine.clone(), ticking.clone())?;
        Ok(Runtime {
            engine,
            decider_linker,
            projection_linker,
            cache,
            config,
            deployed: RwLock::new(HashMap::new()),
            upcasters: Arc::default(),
            ticking,
            metrics: Arc::default(),
        })
    }

    /// Compile (or find compiled) the component in `bytes`, check the world it
    /// implements, prepare it for calls, and try it once on a fresh instance (a
    /// decider's `initial-state`, a projection's `event-types`): a module that fails
    /// there is [`Error::ModuleRefused`], before anything else sees it. The module is
    /// not deployed yet.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Module> {
        let hash = content_hash(bytes);
        let component = self
            .cache
            .get_or_compile(&self.engine, name, &hash, bytes)?;
        let (world, contract, query_decider) = self.world_of(name, &component)?;
        let info = ModuleInfo {
            name: name.to_owned(),
            version: 0,
            hash,
            world,
            size: bytes.len(),
            contract,
        };
        let limits = Limits {
            engine: self.engine.clone(),
            call_timeout: self.config.call_timeout,
            memory_limit: self.config.memory_limit,
            decide_limits: self.config.decide_limits,
            pool: self.config.pool,
            metrics: self.metrics.clone(),
        };
        let unlinkable = |error: wasmtime::Error| Error::Unlinkable {
            module: name.to_owned(),
            reason: format!("{error:#}"),
        };
        let pre = self
            .linker(world)
            .instantiate_pre(&component)
            .map_err(unlinkable)?;
        let exports_schemas = component
            .component_type()
            .exports(&self.engine)
            .any(|(export, _)| export == schemas_interface());
        let described = exports_schemas
            .then(|| bindings::schemas::SchemasModulePre::new(pre.clone()))
            .transpose()
            .map_err(unlinkable)?;
        let module = match (world, contract) {
            (World::Decider, Contract::V0_2) if query_decider => {
                let pre =
                    bindings::query_decider::QueryDeciderModulePre::new(pre).map_err(unlinkable)?;
                Module::new_decider(info, limits, Deciders::Query(Pool::new(pre)))
            }
            (World::Decider, Contract::V0_2) => {
                let pre = bindings::decider::DeciderModulePre::new(pre).map_err(unlinkable)?;
                Module::new_decider(info, limits, Deciders::Stream(Pool::new(pre)))
            }
            (World::Decider, Contract::V0_1) => {
                let pre = bindings::v1::decider::DeciderModulePre::new(pre).map_err(unlinkable)?;
                Module::new_decider(info, limits, Deciders::V1(Pool::new(pre)))
            }
            (World::Projection, Contract::V0_2) => {
                let pre =
                    bindings::projection::ProjectionModulePre::new(pre).map_err(unlinkable)?;
                Module::new_projection(info, limits, Either::Current(Pool::new(pre)))
            }
            (World::Projection, Contract::V0_1) => {
                let pre =
                    bindings::v1::projection::ProjectionModulePre::new(pre).map_err(unlinkable)?;
                Module::new_projection(info, limits, Either::V1(Pool::new(pre)))
            }
            (World::Upcaster, _) => {
                let pre = bindings::upcaster::UpcasterModulePre::new(pre).map_err(unlinkable)?;
                Module::new_upcaster(info, limits, Pool::new(pre))
            }
            (World::Workflow, _) => {
                let pre = bindings::workflow::WorkflowModulePre::new(pre).map_err(unlinkable)?;
                Module::new_workflow(info, limits, Pool::new(pre))
            }
        }?;
        match described {
            Some(pre) => module.described_by_export(Pool::new(pre)),
            None => module.described_by_section(bytes),
        }
    }

    /// The linker a module of `world` is instantiated with: the sandbox's WASI, and
    /// the `documents` import (of both contracts) for projections.
    fn linker(&self, world: World) -> &Linker<HostState> {
        match world {
            World::Projection => &self.projection_linker,
            World::Decider | World::Upcaster | World::Workflow => &self.decider_linker,
        }
    }

    /// [`load`](Self::load) from a file.
    pub fn load_file(&self, name: &str, path: &Path) -> Result<Module> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load(name, &bytes)
    }

    /// Make `module` the current version of its name: the next one after the version
    /// deployed now, or 1. Calls in flight on the old version finish on it.
    pub fn deploy(&self, module: Module) -> Arc<Module> {
        self.deploy_with(module, |previous| previous + 1)
    }

    /// Make `module` the current version of its name under the given version number,
    /// as recorded when it was first deployed (restoring deployments after a restart).
    pub fn deploy_version(&self, module: Module, version: u64) -> Arc<Module> {
        self.deploy_with(module, |_| version)
    }

    fn deploy_with(&self, mut module: Module, version: impl FnOnce(u64) -> u64) -> Arc<Module> {
        let mut deployed = sync::write(&self.deployed);
        let previous = deployed
            .get(&module.info.name)
            .map_or(0, |m| m.info.version);
        module.info.version = version(previous);
        let module = Arc::new(module);
        deployed.insert(module.info.name.clone(), module.clone());
        self.upcasters.deployed(&module);
        tracing::info!(module = %module.info.name, version = module.info.version, hash = %module.info.hash, world = module.info.world.name(), "module deployed");
        module
    }

    /// The current version of the module deployed as `name`.
    pub fn module(&self, name: &str) -> Result<Arc<Module>> {
        self.deployed
            .read()
            .expect("module registry poisoned")
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownModule(name.to_owned()))
    }

    /// What guest calls took and how they faulted, by module.
    pub fn guest_metrics(&self) -> &GuestMetrics {
        &self.metrics
    }

    /// The deployed upcasters: the set every read applies (see [`crate::upcasting`]).
    pub fn upcasters(&self) -> &Arc<Upcasters> {
        &self.upcasters
    }

    /// The current version of every deployed module, by name.
    pub fn modules(&self) -> Vec<ModuleInfo> {
        let deployed = sync::read(&self.deployed);
        let mut infos: Vec<ModuleInfo> = deployed.values().map(|m| m.info.clone()).collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        infos
    }

    /// What the compile cache has done so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The world a component implements and the contract it was built against, from
    /// its exports.
    /// A query decider (it exports `query-decider`) is of the decider world; the
    /// third value says it is one.
    fn world_of(&self, name: &str, component: &Component) -> Result<(World, Contract, bool)> {
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(export, _)| export.to_owned())
            .collect();
        if exports.contains(&query_decider_interface()) {
            return Ok((World::Decider, Contract::V0_2, true));
        }
        for contract in [Contract::V0_2, Contract::V0_1] {
            for &world in contract.worlds() {
                let interface = format!("{}@{}", world.interface(), contract.version());
                if exports.contains(&interface) {
                    return Ok((world, contract, false));
                }
            }
        }
        let expected = World::ALL
            .iter()
            .map(|world| format!("{}@{}", world.interface(), Contract::V0_2.version()))
            .chain([query_decider_interface()])
            .collect::<Vec<_>>()
            .join(", ");
        Err(Error::WrongWorld {
            module: name.to_owned(),
            expected: format!("one of {expected} (or a 0.1.0 decider or projection)"),
            found: if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            },
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

/// The interface a module describing its messages exports.
fn schemas_interface() -> String {
    format!("refold:domain/schemas@{}", Contract::V0_2.version())
}

/// The interface a query decider exports.
fn query_decider_interface() -> String {
    format!("refold:domain/query-decider@{}", Contract::V0_2.version())
}

/// Advance the engine's epoch every [`EPOCH_TICK`] until `ticking` turns false.
/// A wasmtime error as the cause of a Refold error.
pub(crate) fn wasm_cause(error: wasmtime::Error) -> crate::Cause {
    error.into_boxed_dyn_error().into()
}

fn wasm_error(error: wasmtime::Error) -> Error {
    Error::Runtime(wasm_cause(error))
}

fn spawn_epoch_ticker(engine: Engine, ticking: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("refold-epoch".to_owned())
        .spawn(move || {
            while ticking.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
        .map_err(|source| Error::Thread {
            name: "refold-epoch".to_owned(),
            source,
        })
}
