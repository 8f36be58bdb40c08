//! `refold test`: spec files against a module, with exit codes 0, 1 and 2.

use super::{printed, refold};
use crate::support::guests::{self, CART, CART_SUMMARY};

fn wasm(package: &str) -> String {
    guests::wasm_path(package).display().to_string()
}

#[test]
fn the_example_specs_pass() {
    let output = refold(&["test", &wasm(CART), "examples/cart/specs"]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ok   examples/cart/specs/cart.yaml :: opening a cart\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n14 passed, 0 failed\n"), "{stdout}");

    let output = refold(&[
        "test",
        &wasm(CART_SUMMARY),
        "examples/cart-summary/specs/cart-summary.yaml",
    ]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("\n7 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn a_failing_case_exits_1_and_names_the_field() {
    let output = refold(&["test", &wasm(CART), "tests/fixtures/wrong-cart.yaml"]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "ok   tests/fixtures/wrong-cart.yaml :: opening a cart\n\
         FAIL tests/fixtures/wrong-cart.yaml :: confirming with a wrong total\n    \
         events[0].data.total: expected 235, got 234\n\
         1 passed, 1 failed\n"
    );
}

#[test]
fn a_malformed_spec_exits_2_naming_the_file() {
    let output = refold(&[
        "test",
        &wasm(CART),
        "examples/cart/specs",
        "tests/fixtures/malformed-command.yaml",
    ]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert_eq!(stdout, "", "no case runs when a spec file is malformed");
    assert!(
        stderr.starts_with("error: spec file tests/fixtures/malformed-command.yaml, case 'confirming with a broken command': `when` is a string but not JSON text"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = refold(&["test", &wasm(CART)]);
    assert_eq!(output.status.code(), Some(2));

    let output = refold(&["test", &wasm(CART), "no/such/spec.yaml"]);
    let (_, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.starts_with("error: cannot access no/such/spec.yaml: "),
        "{stderr}"
    );

    let output = refold(&["test", "no-such-module.wasm", "examples/cart/specs"]);
    let (_, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.starts_with(
            "error: cannot load module no-such-module.wasm: cannot access no-such-module.wasm: "
        ),
        "{stderr}"
    );
}

#[test]
fn the_help_shows_an_example() {
    let output = refold(&["test", "--help"]);
    let (stdout, _) = printed(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout.contains(
            "Example:\n  refold test target/wasm32-wasip2/release/cart.wasm examples/cart/specs"
        ),
        "{stdout}"
    );
}

#[test]
fn a_spec_for_the_other_world_exits_2_before_any_case_runs() {
    let output = refold(&[
        "test",
        &wasm(CART_SUMMARY),
        "examples/cart-summary/specs",
        "examples/cart/specs",
    ]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: spec file examples/cart/specs/cart.yaml, case 'opening a cart': this is a decider case, but module 'cart_summary' is a projection module"),
        "{stderr}"
    );
}
