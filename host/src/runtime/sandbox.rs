//! What a guest may touch, and how much of the machine it may use.
//!
//! Every instance lives in its own wasmtime `Store` whose data is a [`HostState`]:
//! a locked-down WASI context (no preopened directories, no network, no environment,
//! a fixed clock and seeded random numbers, so guests stay deterministic), a memory
//! limiter, the guest's stdout/stderr routed to `tracing`, and the documents a
//! projection is currently writing. Faults of a call are turned into
//! [`GuestFault`]s here.
//!
//! Random numbers (`wasi:random/random` and `wasi:random/insecure`) are seeded afresh
//! before every call from [`call_seed`]: the module's content hash, the function, and
//! what identifies the call's input. So the same call on the same input draws the same
//! numbers on any instance, in any process, at replay as at the first run, while
//! another call draws others (a v4 UUID made in `decide` differs per stream state and
//! command). The numbers are SHA-256 of the seed and a block counter. The
//! `insecure-seed` a toolchain may read for hash tables stays one constant.
//!
//! Guests never wait: a CPU deadline (epoch interruption) cannot stop a host call that
//! blocks, so [`add_to_linker`] replaces the WASI functions that would wait on a real
//! timer or poll (`wasi:clocks/monotonic-clock` `subscribe-duration` and
//! `subscribe-instant`, `wasi:io/poll` `poll` and `pollable.block`) with ones that
//! answer at once: every pollable a guest can make is ready. A guest that sleeps
//! wakes at once (its fixed clock has not moved), and one that sleeps in a loop runs
//! into its deadline like any other busy guest.

use crate::GuestFault;
use crate::store::Measure;
use crate::sync::lock;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut, Trap};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How much of its stderr a guest keeps for error messages, in bytes.
const STDERR_TAIL: usize = 4096;
/// What wasmtime says when a guest copies out more than its hostcall fuel allows.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";
/// Elements a guest table may hold.
const TABLE_ELEMENTS_LIMIT: usize = 1_000_000;

/// The WASI version whose functions [`add_to_linker`] replaces: the one
/// wasmtime-wasi defines (guests importing older 0.2 versions are linked to it).
const WASI_VERSION: &str = "0.2.12";

/// Add the sandbox's WASI to `linker`: wasmtime-wasi's synchronous p2 interfaces,
/// with every function that would wait replaced by one that answers at once.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, HostState>, (_,): (u64,)| {
            Ok((ready_pollable(&mut store.data_mut().table)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, HostState>, (_,): (u64,)| {
            Ok((ready_pollable(&mut store.data_mut().table)?,))
        },
    )?;
    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI_VERSION}"))?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, HostState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let table = &store.data_mut().table;
            if pollables.is_empty() {
                return Err(wasmtime::format_err!("empty poll list"));
            }
            for pollable in &pollables {
                table.get(pollable)?;
            }
            let ready = u32::try_from(pollables.len())?;
            Ok(((0..ready).collect::<Vec<u32>>(),))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, HostState>, (pollable,): (Resource<DynPollable>,)| {
            store.data_mut().table.get(&pollable)?;
            Ok(())
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable that is ready from the start: what a guest's timer is in the sandbox.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready_pollable(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

/// The data of one instance's store.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    /// The random numbers the guest draws, reseeded before each call.
    random: CallRandom,
    /// The documents a projection call reads and writes; empty outside such a call.
    pub(crate) documents: Box<dyn Documents>,
}

impl HostState {
    /// A fresh, locked-down state for one instance of `module`.
    pub(crate) fn new(module: &str, memory_limit: usize) -> Self {
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let random = CallRandom::default();
        let wasi = WasiCtx::builder()
            .stdout(GuestOutput::new(module, "stdout", None))
            .stderr(GuestOutput::new(
                module,
                "stderr",
                Some(stderr_tail.clone()),
            ))
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .secure_random(random.clone())
            .insecure_random(random.clone())
            .insecure_random_seed(0)
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit),
            stderr_tail,
            random,
            documents: Box::new(NoDocuments),
        }
    }

    /// Start the random numbers of the next call from `seed` (see [`call_seed`]).
    pub(crate) fn seed_random(&self, seed: [u8; 32]) {
        lock(&self.random.0).reseed(seed);
    }

    /// Forget what the guest wrote to stderr so far (called before each call).
    pub(crate) fn clear_stderr(&self) {
        self.stderr_tail
            .lock()
            .expect("stderr buffer poisoned")
            .clear();
    }

    /// Turn the error of a failed call into a fault, with the guest's last stderr
    /// lines (where a Rust panic prints its message) attached to traps. `copy_limit`
    /// is the hostcall fuel the call had: what the guest could copy out.
    pub(crate) fn fault(
        &self,
        error: &wasmtime::Error,
        timeout: Duration,
        copy_limit: usize,
    ) -> GuestFault {
        if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
            return GuestFault::MemoryLimit {
                limit: exceeded.limit,
                requested: exceeded.requested,
            };
        }
        // wasmtime's error for spent hostcall fuel is a private type: its message is
        // all there is to recognise it by.
        if error
            .chain()
            .any(|cause| cause.to_string().contains(HOSTCALL_FUEL_EXHAUSTED))
        {
            return GuestFault::OutputTooLarge {
                measure: Measure::Bytes,
                limit: copy_limit,
                value: None,
            };
        }
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return GuestFault::Deadline(timeout);
        }
        let reason = match error.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => error.root_cause().to_string(),
        };
        let stderr = lock(&self.stderr_tail);
        let stderr = String::from_utf8_lossy(&stderr);
        let stderr = stderr.trim();
        if stderr.is_empty() {
            GuestFault::Trap(reason)
        } else {
            GuestFault::Trap(format!("{reason}; the guest wrote to stderr: {stderr}"))
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::runtime::bindings::decider::refold::domain::types::Host for HostState {}
impl crate::runtime::bindings::v1::decider::refold::domain::types::Host for HostState {}

/// The `documents` import of both contracts: the same functions, one per package version.
macro_rules! documents_host {
    ($host:path) => {
        impl $host for HostState {
            fn get(&mut self, collection: String, id: String) -> Option<String> {
                self.documents.get(&collection, &id)
            }

            fn put(&mut self, collection: String, id: String, document: String) {
                self.documents.put(&collection, &id, document);
            }

            fn delete(&mut self, collection: String, id: String) {
                self.documents.delete(&collection, &id);
            }
        }
    };
}

documents_host!(crate::runtime::bindings::projection::refold::domain::documents::Host);
documents_host!(crate::runtime::bindings::v1::projection::refold::domain::documents::Host);

/// Read-model documents as the host serves them to a projection call, through the
/// component's `documents` import: text-level, scoped to the projection and the
/// partition being applied.
pub trait Documents: Send {
    /// The document `id` of `collection` (JSON text), if it exists.
    fn get(&mut self, collection: &str, id: &str) -> Option<String>;
    /// Create or replace the document `id` of `collection`.
    fn put(&mut self, collection: &str, id: &str, document: String);
    /// Delete the document `id` of `collection`, if it exists.
    fn delete(&mut self, collection: &str, id: &str);
}

/// The documents outside a projection call: there are none, and writes go nowhere.
pub(crate) struct NoDocuments;

impl Documents for NoDocuments {
    fn get(&mut self, _collection: &str, _id: &str) -> Option<String> {
        None
    }
    fn put(&mut self, _collection: &str, _id: &str, _document: String) {}
    fn delete(&mut self, _collection: &str, _id: &str) {}
}

/// Caps the total linear memory of all the memories in one store.
pub(crate) struct MemoryLimiter {
    limit: usize,
    in_use: usize,
}

/// The error a guest traps with when it asks for more memory than its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded: {requested} bytes requested")]
struct MemoryLimitExceeded {
    limit: usize,
    requested: usize,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        MemoryLimiter { limit, in_use: 0 }
    }

    /// Linear memory of the store's memories together, in bytes.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let requested = self.in_use - current + desired;
        if requested > self.limit {
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                requested,
            }
            .into());
        }
        self.in_use = requested;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_LIMIT)
    }
}

/// The seed of one call's random numbers: the module's content hash, the function
/// called, and the parts of its input that identify the call (each length-prefixed,
/// so no two lists of parts give the same bytes).
pub(crate) fn call_seed(module_hash: &str, function: &str, input: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let parts = [module_hash.as_bytes(), function.as_bytes()];
    for part in parts.iter().chain(input) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The random numbers of one call: SHA-256 of the seed and a block counter.
struct RandomStream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl RandomStream {
    fn new(seed: [u8; 32]) -> Self {
        RandomStream {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn reseed(&mut self, seed: [u8; 32]) {
        *self = RandomStream::new(seed);
    }

    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

/// A handle on an instance's [`RandomStream`]: WASI draws from one, the host
/// reseeds it through another.
#[derive(Clone)]
struct CallRandom(Arc<Mutex<RandomStream>>);

impl Default for CallRandom {
    fn default() -> Self {
        CallRandom(Arc::new(Mutex::new(RandomStream::new([0; 32]))))
    }
}

impl rand_core::TryRng for CallRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        lock(&self.0).fill(dst);
        Ok(())
    }
}

/// A clock that always reads the same instant (2024-01-01T00:00:00Z), so guest
/// logic that looks at the time cannot make replays differ.
struct FixedClock;

const FIXED_INSTANT: Duration = Duration::from_secs(1_704_067_200);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        FIXED_INSTANT
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A guest's stdout or stderr: each line becomes a `tracing` event under the
/// module's name; stderr also keeps a tail for fault messages.
#[derive(Clone)]
struct GuestOutput {
    module: Arc<str>,
    stream: &'static str,
    line: Arc<Mutex<Vec<u8>>>,
    tail: Option<Arc<Mutex<Vec<u8>>>>,
}

impl GuestOutput {
    fn new(module: &str, stream: &'static str, tail: Option<Arc<Mutex<Vec<u8>>>>) -> Self {
        GuestOutput {
            module: module.into(),
            stream,
            line: Arc::new(Mutex::new(Vec::new())),
            tail,
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        tracing::info!(target: "refold::guest", module = %self.module, stream = self.stream, "{}", text.trim_end());
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        if let Some(tail) = &self.tail {
            let mut tail = lock(tail);
            tail.extend_from_slice(&bytes);
            let excess = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..excess);
        }
        let mut line = lock(&self.line);
        line.extend_from_slice(&bytes);
        while let Some(end) = line.iter().position(|b| *b == b'\n') {
            let rest = line.split_off(end + 1);
            self.emit(&line);
            *line = rest;
        }
        if line.len() > STDERR_TAIL {
            self.emit(&line);
            line.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}
