//! Loading: refusing what is not a Refold module, and compiling each module once.

use crate::support::guests::{self, CART, CART_SUMMARY, NOT_REFOLD};
use refold::Error;
use refold::runtime::{Runtime, RuntimeConfig, World};

#[test]
fn bytes_that_are_not_a_component_are_refused_saying_what_they_are() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let core_module = b"\0asm\x01\0\0\0";
    for (bytes, what) in [
        (
            &b"not wasm at all"[..],
            "text (starting \"not wasm at all\")",
        ),
        (
            &core_module[..],
            "a core WebAssembly module (what wasm32-unknown-unknown and wasm32-wasip1 builds make), not a component",
        ),
    ] {
        let error = runtime.load("junk", bytes).unwrap_err();
        assert!(matches!(error, Error::NotAComponent { .. }), "{error:?}");
        assert_eq!(
            refold::chain(&error),
            format!(
                "module 'junk' is not a WebAssembly component: it is {what}, where Refold expects a component built against its WIT (refold:domain); build one with `cargo build --release --target wasm32-wasip2` (Rust), componentize-py (Python) or jco (JavaScript)"
            )
        );
    }
    assert_eq!(
        runtime.cache_stats().compiled,
        0,
        "nothing reached the compiler"
    );
}

#[test]
fn a_component_of_another_world_is_refused_with_what_it_exports() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let error = runtime
        .load("other", &guests::wasm(NOT_REFOLD))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "module 'other' is a WebAssembly component but not a Refold module: it exports greet, where Refold expects one of refold:domain/decider@0.2.0, refold:domain/projection@0.2.0, refold:domain/upcaster@0.2.0, refold:domain/workflow@0.2.0, refold:domain/query-decider@0.2.0 (or a 0.1.0 decider or projection); build it against Refold's WIT package (refold:domain), e.g. with the Rust SDK and `cargo build --release --target wasm32-wasip2`"
    );
}

#[test]
fn a_module_used_as_the_wrong_world_says_so() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let summary = runtime
        .load("cart-summary", &guests::wasm(CART_SUMMARY))
        .unwrap();
    assert_eq!(summary.info().world, World::Projection);
    let error = summary.initial_state().unwrap_err();
    assert_eq!(
        error.to_string(),
        "module 'cart-summary' is a projection module, not a decider module"
    );
}

#[test]
fn loading_the_same_module_twice_compiles_once() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = guests::wasm(CART);
    let first = runtime.load("cart", &bytes).unwrap();
    let second = runtime.load("cart-again", &bytes).unwrap();
    assert_eq!(first.info().hash, second.info().hash);
    let stats = runtime.cache_stats();
    assert_eq!((stats.compiled, stats.reused), (1, 1), "{stats:?}");
}

#[test]
fn a_restart_loads_the_precompiled_artifact_instead_of_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let bytes = guests::wasm(CART);
    {
        let runtime = Runtime::new(config.clone()).unwrap();
        runtime.load("cart", &bytes).unwrap();
        assert_eq!(runtime.cache_stats().compiled, 1);
    }
    let restarted = Runtime::new(config).unwrap();
    let cart = restarted.load("cart", &bytes).unwrap();
    let stats = restarted.cache_stats();
    assert_eq!(
        (stats.compiled, stats.loaded_from_disk),
        (0, 1),
        "{stats:?}"
    );
    assert!(cart.initial_state().is_ok());
}

#[test]
fn warm_instances_are_reused_across_calls() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let cart = runtime.load("cart", &guests::wasm(CART)).unwrap();
    for _ in 0..50 {
        cart.initial_state().unwrap();
    }
    assert_eq!(cart.instances_created(), 1);
}
