//! Guest components for tests, built from the workspace's sources on first use.
//!
//! Each guest package is built with `cargo build --release --target wasm32-wasip2`
//! into the workspace's own target directory, once per test process. Packages are
//! built one invocation each, so their cargo features never unify. The Python and
//! JavaScript guests are built by `examples/build-polyglot.sh`, also once per process;
//! they compile slowly, so tests load them on a runtime with a compile cache on disk
//! ([`cached_config`]) that every test process on the machine shares.

use refold::runtime::RuntimeConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The cart decider (`examples/cart`).
pub const CART: &str = "cart";
/// The cart-summary projection (`examples/cart-summary`).
pub const CART_SUMMARY: &str = "cart-summary";
/// The course-subscription query decider (`examples/courses`).
pub const COURSES: &str = "courses";
/// The unique-username query decider (`examples/usernames`).
pub const USERNAMES: &str = "usernames";
/// The cart decider with one more rule (`tests/guests/cart-v2`).
pub const CART_V2: &str = "cart-v2";
/// The cart decider, version 2: prices as `{amount, currency}` (`examples/cart-v2`).
pub const CART_V2_PRICES: &str = "cart-v2-prices";
/// Version 1 cart events into version 2 (`examples/cart-upcaster`).
pub const CART_UPCASTER: &str = "cart-upcaster";
/// A decider that exports the JSON Schemas of its commands and events
/// (`tests/guests/described`).
pub const DESCRIBED: &str = "described";
/// The misbehaving decider (`tests/guests/faulty`).
pub const FAULTY: &str = "faulty";
/// A projection that counts events per stream and fails on `Poison` and `Trap` events
/// (`tests/guests/faulty-projection`).
pub const FAULTY_PROJECTION: &str = "faulty-projection";
/// A projection that writes documents the host must refuse or bound, and keeps
/// hidden global state (`tests/guests/hostile-projection`).
pub const HOSTILE_PROJECTION: &str = "hostile-projection";
/// A component of another world (`tests/guests/not-refold`).
pub const NOT_REFOLD: &str = "not-refold";
/// A decider whose `evolve` keeps hidden global state (`tests/guests/stateful`).
pub const STATEFUL: &str = "stateful";
/// A decider whose `evolve` fails on events its `decide` returns
/// (`tests/guests/unfoldable`).
pub const UNFOLDABLE: &str = "unfoldable";
/// A decider that returns as many and as large events as asked (`tests/guests/flood`).
pub const FLOOD: &str = "flood";
/// A decider whose state grows to the size asked (`tests/guests/big-state`).
pub const BIG_STATE: &str = "big-state";
/// A decider whose `initial-state` traps (`tests/guests/broken-init`).
pub const BROKEN_INIT: &str = "broken-init";
/// A projection whose `event-types` traps (`tests/guests/broken-event-types`).
pub const BROKEN_EVENT_TYPES: &str = "broken-event-types";
/// A projection that declares a query instead of event types (`tests/guests/tagged-counter`).
pub const TAGGED_COUNTER: &str = "tagged-counter";
/// A projection declaring both event types and a query (`tests/guests/both-filters`).
pub const BOTH_FILTERS: &str = "both-filters";
/// The cart decider in Python (`examples/python/cart`).
pub const CART_PY: &str = "cart-py";
/// The cart-summary projection in Python (`examples/python/cart-summary`).
pub const CART_SUMMARY_PY: &str = "cart-summary-py";
/// The cart decider in JavaScript (`examples/javascript/cart`), default engine.
pub const CART_JS: &str = "cart-js";
/// The cart-summary projection in JavaScript (`examples/javascript/cart-summary`), default engine.
pub const CART_SUMMARY_JS: &str = "cart-summary-js";
/// The course-subscription query decider in JavaScript (`examples/javascript/courses`).
pub const COURSES_JS: &str = "courses-js";

/// The build script of the Python and JavaScript guests, from the workspace root.
const POLYGLOT_SCRIPT: &str = "examples/build-polyglot.sh";

/// `<target>/<profile>`: the test binary lives in `<target>/<profile>/deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.ancestors()
        .nth(2)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("the profile directory sits in the target directory")
        .to_path_buf()
}

/// The path of the component built from `package`, building it if this process has not.
pub fn wasm_path(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let target = target_dir();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building guest '{package}' for wasm32-wasip2 failed; is the target installed? (rustup target add wasm32-wasip2)"
    );
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.exists(),
        "cargo built '{package}' but {} is missing",
        path.display()
    );
    built.insert(package.to_owned(), path.clone());
    path
}

/// The bytes of the component built from `package`.
pub fn wasm(package: &str) -> Vec<u8> {
    std::fs::read(wasm_path(package)).expect("a built component is readable")
}

/// The repository's root folder.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the workspace root")
}

/// The bytes of the polyglot component `name` (e.g. [`CART_PY`]), running
/// `examples/build-polyglot.sh` first if this process has not.
pub fn polyglot(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let folder = BUILT
        .get_or_init(build_polyglot)
        .as_ref()
        .unwrap_or_else(|problem| {
            panic!("{problem}");
        });
    let path = folder.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{POLYGLOT_SCRIPT} ran but {} cannot be read: {error}",
            path.display()
        )
    })
}

/// Run the polyglot build script into this target directory; the folder it fills.
fn build_polyglot() -> Result<PathBuf, String> {
    let target = target_dir();
    let output = Command::new(workspace_root().join(POLYGLOT_SCRIPT))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace_root())
        .output()
        .map_err(|error| format!("cannot run {POLYGLOT_SCRIPT}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{POLYGLOT_SCRIPT} failed ({}); run it by hand to see why. Its output:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(target.join("polyglot"))
}

/// Default limits, and a compile cache in `<target>/test-compile-cache` that every
/// test process on the machine shares, so each heavy component compiles once.
pub fn cached_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(target_dir().join("test-compile-cache")),
        ..RuntimeConfig::default()
    }
}
