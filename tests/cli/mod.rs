//! The `refold` binary, run as a user would: arguments in, output and exit code out.

mod deploy;
mod events;
mod export;
mod help;
mod read_side;
mod test;

use crate::support::guests::workspace_root;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Run the built `refold` binary with `args` in the repository's root, with no
/// environment that changes its defaults.
fn refold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refold"))
        .args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .env_remove("REFOLD_DB")
        .output()
        .expect("the refold binary runs")
}

/// What a run printed: stdout, stderr.
fn printed(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Run `refold --db <db> <args>` with `input` on stdin.
fn refold_on(db: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refold"))
        .arg("--db")
        .arg(db)
        .args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .env_remove("REFOLD_DB")
        .env_remove("REFOLD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the refold binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("write the input");
    drop(stdin);
    child.wait_with_output().expect("the refold binary runs")
}

/// Check a run exited with `code`; what it printed (stdout, stderr).
fn exited(output: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = printed(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// The lines of `stdout`, each parsed as JSON.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect()
}
