//! The cart decider and cart-summary projection written in Python and JavaScript,
//! held to the Rust ones: same answers, same bytes, same engine guarantees.
//!
//! Their components bundle an interpreter and take seconds to compile, so every test
//! here loads modules on one runtime per process with the shared on-disk compile cache,
//! one load at a time: each component compiles at most once per machine.

mod behaviour;
mod engine;
mod mixed;
mod specs;

use crate::support::guests::{
    self, CART, CART_JS, CART_PY, CART_SUMMARY, CART_SUMMARY_JS, CART_SUMMARY_PY,
};
use refold::runtime::{Module, Runtime};
use std::sync::{Mutex, OnceLock};

/// A language the example domain is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Rust,
    Python,
    JavaScript,
}

impl Language {
    /// Python and JavaScript, the languages held to the Rust reference.
    const OTHERS: [Language; 2] = [Language::Python, Language::JavaScript];

    /// The cart decider's component.
    fn decider_wasm(self) -> Vec<u8> {
        match self {
            Language::Rust => guests::wasm(CART),
            Language::Python => guests::polyglot(CART_PY),
            Language::JavaScript => guests::polyglot(CART_JS),
        }
    }

    /// The cart-summary projection's component.
    fn projection_wasm(self) -> Vec<u8> {
        match self {
            Language::Rust => guests::wasm(CART_SUMMARY),
            Language::Python => guests::polyglot(CART_SUMMARY_PY),
            Language::JavaScript => guests::polyglot(CART_SUMMARY_JS),
        }
    }

    /// The cart decider, loaded as `cart` (so error messages name the same module).
    fn decider(self) -> Module {
        load("cart", &self.decider_wasm())
    }

    /// The cart-summary projection, loaded as `cart-summary`.
    fn projection(self) -> Module {
        load("cart-summary", &self.projection_wasm())
    }
}

/// The runtime of this process's polyglot tests: default limits, shared compile cache.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(guests::cached_config()).expect("runtime starts"))
}

/// Load a module on the shared runtime. Loads take turns, so tests starting together
/// wait for one compile of a component instead of compiling it side by side.
fn load(name: &str, bytes: &[u8]) -> Module {
    static LOADING: Mutex<()> = Mutex::new(());
    let _turn = LOADING.lock().unwrap_or_else(|e| e.into_inner());
    runtime().load(name, bytes).expect("the component loads")
}
