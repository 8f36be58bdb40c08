//! The engine's guarantees hold for heavy components: warm instances are reused, a
//! restart loads them precompiled from disk, and the default limits fit them.

use super::{Language, load};
use crate::support::{MemoryDocuments, event, guests};
use refold::runtime::{Documents, Module, Runtime, RuntimeConfig};

const OPENED: &str = r#"{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#;
const OPEN_CART: &str = r#"{"type":"OpenCart","data":{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}"#;

/// Every Python and JavaScript component, by what it is.
fn heavy_components() -> Vec<(String, Vec<u8>)> {
    Language::OTHERS
        .iter()
        .flat_map(|language| {
            [
                (format!("{language:?} cart"), language.decider_wasm()),
                (
                    format!("{language:?} cart-summary"),
                    language.projection_wasm(),
                ),
            ]
        })
        .collect()
}

/// One call of the module's world that does real work.
fn call_once(module: &Module) {
    if module.event_types().is_ok() {
        let mut documents: Box<dyn Documents> = Box::new(MemoryDocuments::default());
        module
            .apply(&[event("cart-0", 1, "CartOpened", OPENED)], &mut documents)
            .unwrap();
    } else {
        let empty = module.initial_state().unwrap();
        module.decide(&empty, OPEN_CART).unwrap().unwrap();
    }
}

#[test]
fn one_instance_serves_a_hundred_calls_of_a_heavy_component() {
    for (what, bytes) in heavy_components() {
        let module = load(&what, &bytes);
        for _ in 0..100 {
            call_once(&module);
        }
        assert_eq!(module.instances_created(), 1, "{what}");
    }
}

#[test]
fn a_second_runtime_loads_heavy_components_precompiled_from_disk() {
    for (what, bytes) in heavy_components() {
        // Compiled (or found on disk) by this process's runtime, so the artifact exists.
        load(&what, &bytes);
        let restarted = Runtime::new(guests::cached_config()).unwrap();
        let module = restarted.load(&what, &bytes).unwrap();
        let stats = restarted.cache_stats();
        assert_eq!(
            (stats.compiled, stats.loaded_from_disk),
            (0, 1),
            "{what}: {stats:?}"
        );
        call_once(&module);
    }
}

#[test]
fn heavy_components_run_under_the_default_limits() {
    let config = guests::cached_config();
    let default = RuntimeConfig::default();
    assert_eq!(
        (config.memory_limit, config.call_timeout),
        (default.memory_limit, default.call_timeout)
    );
    // A thousand-event history folded in one call, under the default memory cap and
    // deadline, by every language's cart.
    let mut history = vec![event("cart-0", 1, "CartOpened", OPENED)];
    for k in 1..1000u64 {
        let data = format!(
            r#"{{"cartId":"cart-0","sku":"SKU-{k:05}","name":"Product {k}","quantity":1,"unitPrice":{k},"addedAt":"2024-01-01T00:00:00.000Z"}}"#
        );
        history.push(event("cart-0", k + 1, "ItemAdded", &data));
    }
    let fold = |language: Language| {
        let cart = language.decider();
        cart.evolve(&cart.initial_state().unwrap(), &history)
            .unwrap()
    };
    let reference = fold(Language::Rust);
    for language in Language::OTHERS {
        assert!(
            fold(language) == reference,
            "{language:?} folds another state"
        );
    }
}
