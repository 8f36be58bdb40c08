//! The wasm runtime: loading, calling, sandboxing and swapping real components.

mod cart;
mod faults;
mod loading;
mod swap;

use refold::runtime::{Event, Runtime, RuntimeConfig};
use std::time::Duration;

/// A runtime with a short deadline and a small memory cap, so faults end quickly.
fn strict_runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        call_timeout: Duration::from_millis(200),
        memory_limit: 64 << 20,
        cache_dir: None,
    })
    .expect("runtime starts")
}

/// An event as the store would hand it to a guest.
fn event(stream: &str, position: u64, event_type: &str, data: &str) -> Event {
    Event {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        metadata: "{}".to_owned(),
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: position,
        event_id: format!("00000000-0000-0000-0000-{position:012}"),
        recorded_at: "2024-01-01T00:00:00.000Z".to_owned(),
        partition: "default".to_owned(),
    }
}
