//! The `refold` binary, run as a user would: arguments in, output and exit code out.

mod test;

use crate::support::guests::workspace_root;
use std::process::{Command, Output};

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
