//! The wasm runtime: loading, calling, sandboxing and swapping real components.

mod cart;
mod contract;
mod faults;
mod loading;
mod swap;

use crate::support::event;
use refold::runtime::{Runtime, RuntimeConfig};
use std::time::Duration;

/// A runtime with a short deadline and a small memory cap, so faults end quickly.
fn strict_runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        call_timeout: Duration::from_millis(200),
        memory_limit: 64 << 20,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}
