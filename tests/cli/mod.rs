//! The `refold` binary, run as a user would: arguments in, output and exit code out.

mod deploy;
mod events;
mod export;
mod help;
mod new;
mod read_side;
mod store;
mod test;

use crate::support::guests::{target_dir, workspace_root};
use crate::support::server::{RUN_PATIENCE, refold_on};
use crate::support::wait::output_within;
use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

/// Run the built `refold` binary with `args` in the repository's root, with no
/// environment that changes its defaults.
pub(crate) fn refold(args: &[&str]) -> Output {
    refold_with(args, &[])
}

/// [`refold`] with `env` set too.
pub(crate) fn refold_with(args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let child = refold_command(args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the refold binary runs");
    output_within(child, RUN_PATIENCE, &format!("refold {}", args.join(" ")))
}

/// The `refold` binary with `args` and `env`, in the repository's root, with no other
/// environment that changes its defaults; the cache folder (`XDG_CACHE_HOME`, where
/// `refold test` keeps compiled modules) is one in the target directory unless `env`
/// names another.
fn refold_command(args: &[&str], env: &[(&str, &OsStr)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_refold"));
    command
        .args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .env_remove("REFOLD_DB")
        .env_remove("REFOLD_STORE")
        .env_remove("REFOLD_CACHE_DIR")
        .env("XDG_CACHE_HOME", target_dir().join("test-cache-home"));
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// What a run printed: stdout, stderr.
fn printed(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
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
