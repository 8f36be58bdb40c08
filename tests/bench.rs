//! `refold bench`, run as a user would at reduced sizes: every workload must run,
//! verify its check sums and report a figure. How fast is never asserted.

use crate::support::guests::{CART, CART_SUMMARY, wasm_path, workspace_root};
use crate::support::wait::output_within;
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

/// Every workload and ceiling the suite reports, with who reports it.
const EXPECTED: &[(&str, &str)] = &[
    ("raw-sqlite", "BULK"),
    ("refold", "W1"),
    ("raw-sqlite", "W1"),
    ("refold", "W1-64"),
    ("refold", "W2"),
    ("raw-sqlite", "W2"),
    ("refold", "W2-batch"),
    ("raw-sqlite", "W2-batch"),
    ("refold", "W3-1k"),
    ("native", "W3-1k"),
    ("raw-sqlite", "W3-1k"),
    ("refold", "W3-10k"),
    ("native", "W3-10k"),
    ("raw-sqlite", "W3-10k"),
    ("refold", "W3-10k-snap"),
    ("native", "W3-10k-snap"),
    ("refold", "READ-ALL"),
    ("raw-sqlite", "READ-ALL"),
    ("native", "FOLD"),
    ("refold", "W4"),
    ("native", "W4"),
    ("raw-sqlite", "W4"),
    ("refold", "W4-16"),
    ("native", "W4-16"),
    ("refold", "W5"),
    ("native", "W5"),
    ("raw-sqlite", "W5"),
    ("refold", "W6-compile"),
    ("refold", "W6-load-precompiled"),
    ("refold", "W6-instantiate"),
    ("refold", "W6-hot-swap"),
    ("refold", "H1"),
    ("in-process", "H1"),
    ("refold", "H1-32"),
    ("in-process", "H1-32"),
    ("refold", "H4"),
    ("in-process", "H4"),
    ("refold", "H4-32"),
    ("in-process", "H4-32"),
    ("refold", "DCB"),
    ("raw-sqlite", "DCB"),
    ("refold", "WF"),
    ("native", "WF"),
];

#[test]
fn quick_suite_runs_and_verifies_every_workload() {
    let modules = wasm_path(CART)
        .parent()
        .expect("components live in a folder")
        .to_owned();
    // The order flow's modules, for WF.
    for package in [CART_SUMMARY, "stock", "payment", "order-flow"] {
        assert_eq!(
            wasm_path(package).parent(),
            Some(modules.as_path()),
            "{package}"
        );
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let json = dir.path().join("bench.jsonl");
    let child = Command::new(env!("CARGO_BIN_EXE_refold"))
        .args(["bench", "--quick", "--runs", "1", "--modules"])
        .arg(&modules)
        .arg("--json")
        .arg(&json)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the refold binary runs");
    let output = output_within(child, Duration::from_secs(1800), "refold bench --quick");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "refold bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("QUICK: reduced sizes"), "{stdout}");

    let text = std::fs::read_to_string(&json).expect("the JSON lines file was written");
    let mut figures = HashSet::new();
    let mut infos = HashSet::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let system = value["system"].as_str().expect("a system").to_owned();
        let variant = value["variant"].as_str().expect("a variant").to_owned();
        assert_eq!(value["run"], 1, "{line}");
        if let Some(info) = value.get("info") {
            assert_eq!(info["journal"], "wal", "{line}");
            assert_eq!(info["synchronous"], variant.to_lowercase(), "{line}");
            assert_eq!(info["scale"], "quick", "{line}");
            infos.insert((system, variant));
            continue;
        }
        let metric = value["metric"].as_str().expect("a metric");
        assert!(
            [
                "events_per_s",
                "commands_per_s",
                "inputs_per_s",
                "median_ms",
                "p99_ms"
            ]
            .contains(&metric),
            "{line}"
        );
        let number = value["value"].as_f64().expect("a number");
        assert!(number.is_finite() && number > 0.0, "{line}");
        let workload = value["workload"].as_str().expect("a workload").to_owned();
        figures.insert((system, workload, variant));
    }
    for variant in ["FULL", "NORMAL"] {
        for (system, workload) in EXPECTED {
            assert!(
                figures.contains(&(system.to_string(), workload.to_string(), variant.to_owned())),
                "no {system} figure for {workload} at {variant}"
            );
            assert!(infos.contains(&(system.to_string(), variant.to_owned())));
        }
    }
}
