//! The order flow's spec file passes, from the Rust API and from `refold test`, for
//! the Rust component and the JavaScript one, and a wrong expectation fails naming
//! what differs.

use crate::support::guests;
use refold::harness::{
    ExpectedStep, GivenEvent, GivenInput, ModuleUnderTest, SpecFile, WorkflowSpec,
};
use refold::runtime::Runtime;
use serde_json::json;

const SPECS: &str = "examples/order-flow/specs/order-flow.yaml";

/// Run the spec file against the workflow component `bytes`: every case passes.
fn passes_the_spec_file(bytes: Vec<u8>) {
    let runtime = Runtime::new(guests::cached_config()).unwrap();
    let module = ModuleUnderTest::load(&runtime, "order-flow", bytes).unwrap();
    let specs = SpecFile::load(&guests::workspace_root().join(SPECS)).unwrap();
    let reports = specs.run(&module).unwrap();
    assert_eq!(reports.len(), 8);
    for report in &reports {
        assert!(
            report.verdict.passed(),
            "{}: {:?}",
            report.name,
            report.verdict
        );
    }
}

#[test]
fn the_order_flow_specs_pass_from_rust_and_from_refold_test() {
    passes_the_spec_file(guests::wasm("order-flow"));

    let path = guests::wasm_path("order-flow").display().to_string();
    let output = crate::cli::refold(&["test", &path, SPECS]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with("\n8 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn a_wrong_expectation_names_the_command_that_differs() {
    let runtime = Runtime::new(guests::cached_config()).unwrap();
    let bytes = guests::wasm("order-flow");
    let module = ModuleUnderTest::load(&runtime, "order-flow", bytes.clone()).unwrap();
    let confirmed = GivenEvent::new(
        "CartConfirmed",
        json!({"cartId": "o1", "itemCount": 3, "total": 900}),
    );
    let verdict = WorkflowSpec::new(&module)
        .given([GivenInput::Event(confirmed)])
        .then(&ExpectedStep {
            commands: vec![json!({"decider": "stock", "stream": "stock-o1", "command": {"type": "Reserve", "data": {"orderId": "o1", "units": 2}}})],
            finished: Some(true),
        })
        .unwrap();
    let differences = verdict.differences().join("\n");
    assert!(
        differences.contains("commands[0].command.data.units: expected 2, got 3"),
        "{differences}"
    );
    assert!(
        differences.contains("finished: expected true, got false"),
        "{differences}"
    );
}

#[test]
fn the_javascript_order_flow_passes_the_same_spec_file() {
    passes_the_spec_file(guests::polyglot("order-flow-js"));
}
