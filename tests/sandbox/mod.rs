//! The sandbox against hostile guests and hostile requests: each test is one way a
//! guest or a client written for the purpose tried to hurt the server, scaled down
//! with lower limits set in the test, and each checks the answer, that nothing was
//! written where nothing should be, and that the next ordinary command succeeds.

mod copy_limit;
mod deploy_trial;
mod evolve_first;
mod idle_memory;
mod output_limits;

use crate::support::guests;
use crate::support::server::{Answer, Db, Server, get, post};
use std::time::{Duration, Instant};

/// How long an ordinary command may take after an attack before the test calls the
/// server stalled: generous, the measured figure is printed.
const ORDINARY_LATENCY: Duration = Duration::from_secs(5);

/// Send the ordinary `command` to `stream` and check it succeeds within
/// [`ORDINARY_LATENCY`]; its answer. `after` says what came before, for messages.
fn ordinary_command(
    agent: &ureq::Agent,
    server: &Server,
    decider: &str,
    stream: &str,
    command_json: &str,
    after: &str,
) -> serde_json::Value {
    let started = Instant::now();
    let answer = command(agent, server, decider, stream, command_json);
    let took = started.elapsed();
    let outcome = answer.ok().clone();
    eprintln!("an ordinary command after {after} took {took:?}");
    assert!(
        took < ORDINARY_LATENCY,
        "an ordinary command after {after} took {took:?} (bound {ORDINARY_LATENCY:?})"
    );
    outcome
}

/// A server on a fresh database with `guest` deployed under its own name, and `extra`
/// after `serve`.
fn serve(guest: &str, extra: &[&str]) -> (Db, Server) {
    let db = Db::new();
    let deploy = format!("{guest}={}", guests::wasm_path(guest).display());
    let mut args = vec!["--deploy", deploy.as_str()];
    args.extend_from_slice(extra);
    let server = db.serve(&args);
    (db, server)
}

/// `POST /commands/{decider}/{stream}` with `command`.
fn command(
    agent: &ureq::Agent,
    server: &Server,
    decider: &str,
    stream: &str,
    command: &str,
) -> Answer {
    post(
        agent,
        &server.url(&format!("/commands/{decider}/{stream}")),
        command,
        None,
    )
}

/// The global position of the last event stored.
fn head(agent: &ureq::Agent, server: &Server) -> u64 {
    get(agent, &server.url("/log?limit=1")).ok()["head"]
        .as_u64()
        .expect("a log page names its head")
}

/// `MiB` mebibytes, for messages.
fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
