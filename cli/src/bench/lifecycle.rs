//! W6, the module lifecycle of the cart decider: what it costs to bring a version in.
//!
//! - `W6-compile`: the first load of the component into a runtime with an empty
//!   compile cache (hash, compile, write the precompiled artifact, prepare).
//! - `W6-load-precompiled`: the same load in a new runtime whose cache holds the
//!   artifact (what a restart pays).
//! - `W6-instantiate`: the first call on a freshly loaded module, which instantiates
//!   it from its pre-instantiated form (`initial-state`, the cheapest call, included).
//! - `W6-hot-swap`: from [`Engine::deploy`] of a new version (new bytes, so it really
//!   compiles and records the deploy) to the first command served by that version.
//!
//! Each is the median of several samples; p99 is the slowest of them.

use super::{Metric, Recorder, Result, System, Work, check, verify_error};
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{DEFAULT_PARTITION, Storage};
use refold_workload as workload;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// W6's four figures.
pub(super) fn w6(work: &Work<'_>, recorder: &mut Recorder) -> Result<()> {
    let setup = work.setup;
    let samples = setup.sizes().samples;
    let bytes = std::fs::read(&setup.modules.cart).map_err(|source| super::BenchError::Io {
        path: setup.modules.cart.clone(),
        source,
    })?;
    let (mut compile, mut precompiled, mut instantiate) = (Vec::new(), Vec::new(), Vec::new());
    for sample in 0..samples {
        let config = RuntimeConfig {
            cache_dir: Some(work.dir.join(format!("compiled-{sample}"))),
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(config.clone())?;
        let start = Instant::now();
        runtime.load("cart", &bytes)?;
        compile.push(start.elapsed());
        check(runtime.cache_stats().compiled == 1, "W6-compile", || {
            format!("{:?} instead of one compile", runtime.cache_stats())
        })?;

        let runtime = Runtime::new(config)?;
        let start = Instant::now();
        let module = runtime.load("cart", &bytes)?;
        precompiled.push(start.elapsed());
        check(
            runtime.cache_stats().loaded_from_disk == 1,
            "W6-load-precompiled",
            || format!("{:?} instead of one load from disk", runtime.cache_stats()),
        )?;

        let start = Instant::now();
        module.initial_state()?;
        instantiate.push(start.elapsed());
        check(module.instances_created() == 1, "W6-instantiate", || {
            format!(
                "{} instances made by the first call",
                module.instances_created()
            )
        })?;
    }
    for (workload, timings) in [
        ("W6-compile", &compile),
        ("W6-load-precompiled", &precompiled),
        ("W6-instantiate", &instantiate),
    ] {
        record(recorder, workload, timings);
    }
    let swaps = hot_swaps(work, recorder, &bytes, samples)?;
    record(recorder, "W6-hot-swap", &swaps);
    Ok(())
}

/// Median and p99 (the slowest) of a W6 figure's samples.
fn record(recorder: &mut Recorder, workload: &str, timings: &[Duration]) {
    let summary = super::report::Latencies::of(timings);
    recorder.figure(
        System::Refold,
        workload,
        Metric::MedianMs,
        summary.median_ms,
    );
    recorder.figure(System::Refold, workload, Metric::P99Ms, summary.p99_ms);
}

/// Deploy `samples` new versions of the cart decider into an engine serving cart-0 and
/// time each from the deploy call to the first command the new version handled.
fn hot_swaps(
    work: &Work<'_>,
    recorder: &mut Recorder,
    bytes: &[u8],
    samples: usize,
) -> Result<Vec<Duration>> {
    let store = Arc::new(work.fresh_store("w6.db")?);
    recorder.observe(&store);
    let engine = crate::block_on(Engine::with_storage(
        Storage::of(store),
        EngineConfig {
            synchronous: work.setup.synchronous,
            ..EngineConfig::new(work.dir.join("w6.db"))
        },
    ))?;
    let events = workload::cart_events(0, workload::ITEMS);
    crate::block_on(engine.deploy("cart", bytes, FailurePolicy::Stop))?;
    let open = format!(r#"{{"type":"OpenCart","data":{}}}"#, events[0].1);
    crate::block_on(
        engine
            .commands()
            .handle("cart", DEFAULT_PARTITION, "cart-0", &open),
    )?;
    let mut swaps = Vec::with_capacity(samples);
    for sample in 0..samples {
        let version = new_version(bytes, sample);
        let item = &events[1 + sample % workload::ITEMS as usize].1;
        let command = format!(r#"{{"type":"AddItem","data":{item}}}"#);
        let start = Instant::now();
        let (deployed, outcome) = crate::block_on(async {
            let deployed = engine.deploy("cart", &version, FailurePolicy::Stop).await?;
            let outcome = engine
                .commands()
                .handle("cart", DEFAULT_PARTITION, "cart-0", &command)
                .await?;
            Ok::<_, refold::Error>((deployed, outcome))
        })?;
        swaps.push(start.elapsed());
        if outcome.module_version != deployed.version {
            return Err(verify_error(
                "W6-hot-swap",
                format!(
                    "the first command after deploying version {} ran on version {}",
                    deployed.version, outcome.module_version
                ),
            ));
        }
    }
    engine.shutdown();
    Ok(swaps)
}

/// The component `bytes` with a custom section naming `sample` appended: the same
/// logic under a new content hash, so deploying it is a real new version.
fn new_version(bytes: &[u8], sample: usize) -> Vec<u8> {
    let name = b"refold-bench";
    let payload = sample.to_le_bytes();
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0);
    out.extend(leb128(section.len()));
    out.extend(section);
    out
}

/// `value` as unsigned LEB128, the integer encoding of wasm binaries.
fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
