//! `refold test`: spec files against a module, with exit codes 0, 1 and 2; what a
//! failure says and where it points; the compile cache; `--watch`.

use super::{json_lines, printed, refold, refold_command, refold_with};
use crate::support::guests::{self, CART, CART_SUMMARY, COURSES, FAULTY, USERNAMES};
use crate::support::wait::{Lines, PATIENCE};
use std::process::Stdio;

fn wasm(package: &str) -> String {
    guests::wasm_path(package).display().to_string()
}

#[test]
fn the_example_specs_pass_query_deciders_included() {
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

    for (package, specs, summary) in [
        (COURSES, "examples/courses/specs", "\n14 passed, 0 failed\n"),
        (
            USERNAMES,
            "examples/usernames/specs",
            "\n8 passed, 0 failed\n",
        ),
    ] {
        let output = refold(&["test", &wasm(package), specs]);
        let (stdout, stderr) = printed(&output);
        assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
        assert!(stdout.ends_with(summary), "{stdout}");
    }
}

#[test]
fn a_failing_case_exits_1_and_names_the_field() {
    let output = refold(&["test", &wasm(CART), "tests/fixtures/wrong-cart.yaml"]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "ok   tests/fixtures/wrong-cart.yaml :: opening a cart\n\
         FAIL tests/fixtures/wrong-cart.yaml:11 :: confirming with a wrong total\n    \
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
            "Examples:\n  refold test target/wasm32-wasip2/release/cart.wasm examples/cart/specs"
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

#[test]
fn a_failure_points_at_the_yaml_and_an_invalid_command_can_be_expected() {
    let output = refold(&["test", &wasm(CART), "tests/fixtures/cart-answers.yaml"]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "ok   tests/fixtures/cart-answers.yaml :: an unknown command is invalid\n\
         FAIL tests/fixtures/cart-answers.yaml:11 :: a quantity that is not a number\n    \
         events: expected 1 event, got an invalid command: \"the command is not a known command as JSON {\\\"type\\\": ..., \\\"data\\\": {...}}: invalid type: string \\\"two\\\", expected u64\" at when.data.quantity (line 18)\n\
         FAIL tests/fixtures/cart-answers.yaml:25 :: confirming a cart never opened\n    \
         invalid: expected an invalid command, got a rejection: \"cannot confirm cart cart-0: it is not open\"\n\
         1 passed, 2 failed\n"
    );
}

#[test]
fn a_trapping_case_is_one_fail_line_and_its_backtrace_only_a_debug_log() {
    let spec = "tests/fixtures/faulty-panics.yaml";
    let output = refold(&["test", &wasm(FAULTY), spec]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let [fail, summary] = lines[..] else {
        panic!("one FAIL line and the summary:\n{stdout}");
    };
    assert!(
        fail.starts_with(&format!(
            "FAIL {spec}:4 :: a decide that panics: when: module 'faulty' failed in decide: trapped: "
        )) && fail.ends_with("the faulty guest panics on purpose"),
        "{fail}"
    );
    assert_eq!(summary, "0 passed, 1 failed");
    assert_eq!(stderr, "", "nothing is logged at the default level (warn)");

    let output = refold(&["--log-level", "debug", "test", &wasm(FAULTY), spec]);
    let (stdout, stderr) = printed(&output);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stderr.contains("guest call failed") && stderr.contains("wasm backtrace"),
        "the backtrace is logged at debug:\n{stderr}"
    );
}

#[test]
fn a_second_run_of_the_same_module_compiles_nothing() {
    let cache_home = tempfile::tempdir().unwrap();
    let cache_stats = || {
        let output = refold_with(
            &[
                "--log-level",
                "info",
                "--log-format",
                "json",
                "test",
                &wasm(CART),
                "examples/cart/specs",
            ],
            &[("XDG_CACHE_HOME", cache_home.path().as_os_str())],
        );
        let (stdout, stderr) = printed(&output);
        assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
        let logs = json_lines(&stderr);
        let cache = logs
            .iter()
            .find(|log| log["fields"]["message"] == "compile cache")
            .unwrap_or_else(|| panic!("the cache's counters are logged at info:\n{stderr}"));
        let fields = &cache["fields"];
        (
            fields["compiled"].as_u64().unwrap(),
            fields["loaded_from_disk"].as_u64().unwrap(),
        )
    };
    assert_eq!(cache_stats(), (1, 0), "the first run compiles the module");
    assert_eq!(cache_stats(), (0, 1), "the second loads it from the cache");
    let folder = cache_home.path().join("refold/compiled");
    let artifacts = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("the documented cache folder {}: {e}", folder.display()))
        .count();
    assert_eq!(artifacts, 1);
}

#[test]
fn the_help_lists_only_what_the_test_uses() {
    let output = refold(&["test", "--help"]);
    let (stdout, _) = printed(&output);
    assert_eq!(output.status.code(), Some(0));
    for option in ["--watch", "--cache-dir", "--log-level"] {
        assert!(stdout.contains(option), "{option}:\n{stdout}");
    }
    for unused in ["--db", "--store"] {
        assert!(!stdout.contains(unused), "{unused} is listed:\n{stdout}");
    }
    let output = refold(&["test", "--db", "x.db", &wasm(CART), "examples/cart/specs"]);
    let (_, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.starts_with("error: refold test opens no store: leave out --db and --store"),
        "{stderr}"
    );
}

#[test]
fn watch_runs_again_when_the_spec_or_the_module_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (module, spec) = (dir.path().join("cart.wasm"), dir.path().join("cart.yaml"));
    std::fs::copy(guests::wasm_path(CART), &module).unwrap();
    let wrong =
        std::fs::read_to_string(guests::workspace_root().join("tests/fixtures/wrong-cart.yaml"))
            .unwrap();
    let first_case = wrong.split("\n\n").next().unwrap().to_owned();
    std::fs::write(&spec, &first_case).unwrap();
    let mut child = refold_command(
        &[
            "test",
            "--watch",
            module.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    let mut until = |wanted: &str| {
        let started = std::time::Instant::now();
        let mut seen = Vec::new();
        loop {
            let line = lines.next(PATIENCE, wanted);
            seen.push(line.clone());
            if line.starts_with(wanted) {
                return (seen, started.elapsed());
            }
        }
    };
    until("1 passed, 0 failed");
    until("watching ");

    std::fs::write(&spec, &wrong).unwrap();
    let (seen, took) = until("1 passed, 1 failed");
    assert_eq!(seen[0], format!("changed: {}", spec.display()), "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.starts_with("FAIL ") && l.contains(":11 :: confirming with a wrong total")),
        "{seen:?} (after {took:?})"
    );
    until("watching ");

    std::fs::copy(guests::wasm_path(CART), &module).unwrap();
    let (seen, _) = until("1 passed, 1 failed");
    assert_eq!(
        seen[0],
        format!("changed: {}", module.display()),
        "{seen:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
