//! Naming the store: `--store <URL>` (env `REFOLD_STORE`), `--db` as its SQLite
//! shorthand, which of them wins, and what a bad URL is told.

use super::{exited, json_lines, printed, refold};
use crate::support::guests::workspace_root;
use crate::support::postgres;
use crate::support::wait::output_within;
use std::process::{Command, Output, Stdio};

/// Run `refold <args>` with `env` set (and nothing else of the caller's environment
/// that names a store), `input` on stdin.
fn refold_with(env: &[(&str, &str)], args: &[&str], input: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_refold"));
    command
        .args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .env_remove("REFOLD_DB")
        .env_remove("REFOLD_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the refold binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::io::Write::write_all(&mut stdin, input.as_bytes()).expect("write the input");
    drop(stdin);
    output_within(
        child,
        super::RUN_PATIENCE,
        &format!("refold {}", args.join(" ")),
    )
}

#[test]
fn store_and_db_together_are_refused_and_the_command_line_wins_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();

    let both = refold(&[
        "--store",
        &format!("sqlite:{}", file("a.db")),
        "--db",
        &file("b.db"),
        "modules",
    ]);
    let (_, stderr) = exited(&both, 2);
    assert!(
        stderr.contains("--store and --db both name the store"),
        "{stderr}"
    );
    assert!(!dir.path().join("a.db").exists() && !dir.path().join("b.db").exists());

    // Only the environment names a store: REFOLD_STORE wins over REFOLD_DB.
    let store_env = format!("sqlite:{}", file("env-store.db"));
    let env = [
        ("REFOLD_STORE", store_env.as_str()),
        ("REFOLD_DB", &*file("env-db.db")),
    ];
    exited(&refold_with(&env, &["modules"], ""), 0);
    assert!(dir.path().join("env-store.db").exists());
    assert!(!dir.path().join("env-db.db").exists());

    // Either option on the command line wins over both variables.
    exited(
        &refold_with(&env, &["--db", &file("flag.db"), "modules"], ""),
        0,
    );
    assert!(dir.path().join("flag.db").exists());
    let flagged = format!("sqlite:{}", file("flag-store.db"));
    exited(&refold_with(&env, &["--store", &flagged, "modules"], ""), 0);
    assert!(dir.path().join("flag-store.db").exists());
    assert!(!dir.path().join("env-db.db").exists());
}

#[test]
fn a_bad_store_url_says_what_is_wrong_and_shows_a_good_one() {
    for (url, wrong) in [
        (
            "mysql://root:hunter2@db/app",
            "neither 'sqlite:' nor 'postgres://'",
        ),
        ("sqlite:", "names no file"),
        ("postgres://db/app?schema=No-Caps", "cannot name the schema"),
        (
            "postgres://root:hunter2@db/app?sslmode=require",
            "asks for TLS",
        ),
    ] {
        let (_, stderr) = exited(&refold(&["--store", url, "read", "--log"]), 2);
        assert!(stderr.contains(wrong), "{url}: {stderr}");
        assert!(
            stderr.contains("postgres://user:password@localhost:5432/refold"),
            "{url}: an example of a good URL: {stderr}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "{url}: the password is hidden: {stderr}"
        );
    }
}

#[test]
fn every_subcommand_reaches_a_postgres_store_named_by_url_or_environment() {
    let url = format!(
        "{}?schema={}",
        postgres::url(),
        postgres::fresh_config().schema
    );
    let input =
        "{\"type\":\"Noted\",\"data\":{\"n\":1}}\n{\"type\":\"Noted\",\"data\":{\"n\":2}}\n";
    let appended = refold_with(&[], &["--store", &url, "append", "notes-1"], input);
    let (stdout, _) = exited(&appended, 0);
    assert_eq!(json_lines(&stdout)[0]["lastPosition"], 2);

    let env = [("REFOLD_STORE", url.as_str())];
    let read = refold_with(&env, &["read", "notes-1"], "");
    let (stdout, _) = exited(&read, 0);
    let events = json_lines(&stdout);
    let data: Vec<_> = events.iter().map(|e| e["data"]["n"].clone()).collect();
    assert_eq!(data, [1, 2], "{stdout}");

    let exported = refold_with(&env, &["export"], "");
    let (stdout, stderr) = printed(&exported);
    assert_eq!(exported.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}
