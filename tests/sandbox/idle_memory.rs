//! Instances that grew are not kept warm: wasm memory never shrinks, so an instance
//! whose memory grew past the pool's threshold is dropped after its call, the idle
//! instances of a version together stay under the pool's bound, and the server's
//! memory comes back after a burst of large states.

use super::{command, mib, ordinary_command, serve};
use crate::support::guests::{self, BIG_STATE};
use crate::support::server::agent;
use refold::runtime::{PoolConfig, Runtime, RuntimeConfig};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Streams grown at once, each by a thread of its own.
const STREAMS: usize = 8;
/// Each stream's state at its peak: above glibc's largest mmap threshold (32 MiB), so
/// the host's copies of it are given back to the system when freed.
const STATE: usize = 40 << 20;

#[test]
fn after_a_burst_of_large_states_the_server_gives_the_memory_back() {
    let (_db, server) = serve(
        BIG_STATE,
        &["--idle-instance-memory", "32MiB", "--guest-deadline", "30s"],
    );
    let agent = agent();
    for stream in 0..STREAMS {
        command(
            &agent,
            &server,
            BIG_STATE,
            &format!("warm-{stream}"),
            r#"{"type":"Grow","bytes":1024}"#,
        )
        .ok();
    }
    let idle = server.rss();

    std::thread::scope(|scope| {
        for stream in 0..STREAMS {
            let (agent, server) = (&agent, &server);
            scope.spawn(move || {
                let stream = format!("big-{stream}");
                let grow = format!(r#"{{"type":"Grow","bytes":{STATE}}}"#);
                assert_eq!(
                    command(agent, server, BIG_STATE, &stream, &grow).ok()["streamVersion"],
                    1
                );
                let shrunk = command(agent, server, BIG_STATE, &stream, r#"{"type":"Shrink"}"#);
                assert_eq!(
                    shrunk.ok()["events"][0]["data"]["had"].as_u64(),
                    Some(STATE as u64)
                );
            });
        }
    });

    // Freed memory may take a moment to leave the process: look again for a while.
    let bound = 2 * idle + (64 << 20);
    let started = Instant::now();
    let mut after = server.rss();
    while after > bound && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
        after = server.rss();
    }
    eprintln!(
        "RSS idle {}, after the burst {} (bound {})",
        mib(idle),
        mib(after),
        mib(bound)
    );
    assert!(
        after <= bound,
        "the server's RSS was {} idle and {} {:?} after a burst of {STREAMS} states of {} (bound {})",
        mib(idle),
        mib(after),
        started.elapsed(),
        mib(STATE),
        mib(bound)
    );
    let next = ordinary_command(
        &agent,
        &server,
        BIG_STATE,
        "warm-0",
        r#"{"type":"Shrink"}"#,
        "a burst of large states",
    );
    assert_eq!(next["streamVersion"], 2);
    server.stop();
}

#[test]
fn the_idle_instances_of_a_module_version_hold_no_more_than_the_pool_bound() {
    const BOUND: usize = 64 << 20;
    let runtime = Runtime::new(RuntimeConfig {
        call_timeout: Duration::from_secs(60),
        pool: PoolConfig {
            instance_memory: 1 << 30,
            memory: BOUND,
            ..PoolConfig::default()
        },
        ..RuntimeConfig::default()
    })
    .unwrap();
    let module = runtime.load(BIG_STATE, &guests::wasm(BIG_STATE)).unwrap();
    // Each call hands the instance a 20 MiB state, so each instance grows past it.
    let state = vec![0x5a_u8; 20 << 20];
    let start = Barrier::new(STREAMS);
    std::thread::scope(|scope| {
        for _ in 0..STREAMS {
            scope.spawn(|| {
                start.wait();
                let shrunk = module.decide(&state, r#"{"type":"Shrink"}"#).unwrap();
                assert_eq!(shrunk.unwrap().len(), 1);
            });
        }
    });
    let pool = module.pool_stats();
    eprintln!(
        "{} instances made, {} kept idle holding {}",
        module.instances_created(),
        pool.idle,
        mib(pool.memory)
    );
    assert!(
        pool.memory <= BOUND && pool.idle <= BOUND / state.len(),
        "{} idle instances of {} instances made hold {} (bound {})",
        pool.idle,
        module.instances_created(),
        mib(pool.memory),
        mib(BOUND)
    );
    assert!(
        pool.idle >= 1,
        "an instance under the bounds is kept: {pool:?}"
    );
    let next = module.decide(&[], r#"{"type":"Grow","bytes":1}"#).unwrap();
    assert_eq!(next.unwrap()[0].event_type, "Grown");
}
