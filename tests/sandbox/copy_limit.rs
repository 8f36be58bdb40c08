//! What a guest call may copy out (wasmtime's hostcall fuel, 128 MiB unless set)
//! follows the memory cap: any state that fits in a guest's memory can be handed back,
//! and one that does not is the memory-limit fault, with nothing written.

use crate::support::guests::{self, BIG_STATE};
use crate::support::{TempStore, block_on};
use refold::commands::{CommandConfig, CommandHandler};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::{DEFAULT_PARTITION, EventStore};
use refold::{Error, GuestFault};
use std::sync::Arc;
use std::time::Duration;

/// Over wasmtime's default copy limit of 128 MiB, under the cap set below.
const STATE: usize = 130 << 20;

#[test]
fn a_state_over_128_mib_but_under_the_memory_cap_is_handed_back() {
    let store = TempStore::new();
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            memory_limit: 320 << 20,
            // Copies of a state this size take seconds in a debug build.
            call_timeout: Duration::from_secs(60),
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    runtime.deploy(runtime.load(BIG_STATE, &guests::wasm(BIG_STATE)).unwrap());
    let handler = CommandHandler::new(store.shared(), runtime, CommandConfig::default());
    let handle =
        |command: &str| block_on(handler.handle(BIG_STATE, DEFAULT_PARTITION, "big-1", command));
    let version = || block_on(store.stream_version(DEFAULT_PARTITION, "big-1")).unwrap();

    let grown = handle(&format!(r#"{{"type":"Grow","bytes":{STATE}}}"#)).unwrap();
    assert_eq!(grown.stream_version, 1);
    let shrunk = handle(r#"{"type":"Shrink"}"#).unwrap();
    let data: serde_json::Value = serde_json::from_str(&shrunk.events[0].data).unwrap();
    assert_eq!(
        data["had"].as_u64(),
        Some(STATE as u64),
        "decide saw the whole state"
    );

    let over = handle(&format!(r#"{{"type":"Grow","bytes":{}}}"#, 400 << 20)).unwrap_err();
    assert!(
        matches!(&over, Error::Guest { module, function: "evolve", fault: GuestFault::MemoryLimit { .. } } if module == BIG_STATE),
        "{over:?}"
    );
    assert_eq!(version(), Some(2), "a state over the cap wrote its event");
    assert_eq!(handle(r#"{"type":"Shrink"}"#).unwrap().stream_version, 3);
}
