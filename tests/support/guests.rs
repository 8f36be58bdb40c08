//! Guest components for tests, built from the workspace's sources on first use.
//!
//! Each guest package is built with `cargo build --release --target wasm32-wasip2`
//! into the workspace's own target directory, once per test process. Packages are
//! built one invocation each, so their cargo features never unify.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The cart decider (`examples/cart`).
pub const CART: &str = "cart";
/// The cart-summary projection (`examples/cart-summary`).
pub const CART_SUMMARY: &str = "cart-summary";
/// The cart decider with one more rule (`tests/guests/cart-v2`).
pub const CART_V2: &str = "cart-v2";
/// The misbehaving decider (`tests/guests/faulty`).
pub const FAULTY: &str = "faulty";
/// A projection that counts events per stream and fails on `Poison` and `Trap` events
/// (`tests/guests/faulty-projection`).
pub const FAULTY_PROJECTION: &str = "faulty-projection";
/// A component of another world (`tests/guests/not-refold`).
pub const NOT_REFOLD: &str = "not-refold";
/// A decider whose `evolve` keeps hidden global state (`tests/guests/stateful`).
pub const STATEFUL: &str = "stateful";

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
