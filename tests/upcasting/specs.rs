//! Spec files with upcasters: the upcaster's own cases (the Rust and the JavaScript
//! upcaster pass the same file), and a decider's cases read through an upcaster, from
//! the Rust API and from `refold test`.

use crate::support::guests::{self, CART_UPCASTER, CART_V2_PRICES};
use refold::harness::{ModuleUnderTest, SpecFile};
use refold::runtime::Runtime;

fn spec(path: &str) -> SpecFile {
    SpecFile::load(&guests::workspace_root().join(path)).unwrap()
}

/// Check every case of `spec` passed against `module`, through `upcasters`.
fn assert_all_pass(
    spec: &SpecFile,
    module: &ModuleUnderTest<'_>,
    upcasters: &[&ModuleUnderTest<'_>],
) {
    let reports = spec.run_with(module, upcasters).unwrap();
    assert!(!reports.is_empty());
    for report in reports {
        assert!(
            report.verdict.passed(),
            "{}: {:?}",
            report.name,
            report.verdict.differences()
        );
    }
}

#[test]
fn the_rust_and_the_javascript_upcasters_pass_the_same_spec_and_deciders_read_through_them() {
    let runtime = &Runtime::new(guests::cached_config()).unwrap();
    let rust =
        ModuleUnderTest::load(runtime, "cart-upcaster", guests::wasm(CART_UPCASTER)).unwrap();
    let javascript = ModuleUnderTest::load(
        runtime,
        "cart-upcaster",
        guests::polyglot("cart-upcaster-js"),
    )
    .unwrap();
    let upcaster_spec = spec("examples/cart-upcaster/specs/cart-upcaster.yaml");
    assert_all_pass(&upcaster_spec, &rust, &[]);
    assert_all_pass(&upcaster_spec, &javascript, &[]);

    let cart_v2 = ModuleUnderTest::load(runtime, "cart-v2", guests::wasm(CART_V2_PRICES)).unwrap();
    let decider_spec = spec("examples/cart-v2/specs/cart-v2.yaml");
    assert_eq!(decider_spec.upcasters(), ["cart-upcaster"]);
    assert_all_pass(&decider_spec, &cart_v2, &[&rust]);
    assert_all_pass(&decider_spec, &cart_v2, &[&javascript]);
    // Without the upcaster the v1 history cannot be read: the file says which is missing.
    let missing = decider_spec.run(&cart_v2).unwrap_err().to_string();
    assert!(
        missing.contains("upcaster 'cart-upcaster', which was not given"),
        "{missing}"
    );

    // The command line, with the upcaster named on it.
    let upcaster = format!(
        "cart-upcaster={}",
        guests::wasm_path(CART_UPCASTER).display()
    );
    let module = guests::wasm_path(CART_V2_PRICES).display().to_string();
    let output = crate::cli::refold_with(
        &[
            "test",
            &module,
            "examples/cart-v2/specs",
            "--upcaster",
            &upcaster,
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.ends_with("2 passed, 0 failed\n"), "{stdout}");
}
