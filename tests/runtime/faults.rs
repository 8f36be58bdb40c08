//! Every guest fault is a typed error for that one call, and the next call works.

use super::strict_runtime;
use crate::support::guests::{self, FAULTY};
use refold::runtime::{DeciderContext, Module, Runtime, RuntimeConfig};
use refold::{Error, GuestFault};
use std::time::{Duration, Instant};

fn decide(module: &Module, command_type: &str) -> refold::Result<Vec<String>> {
    let command = format!(r#"{{"type":"{command_type}"}}"#);
    let events = module
        .decide(&[], &command)?
        .expect("the faulty guest does not reject this");
    Ok(events.into_iter().map(|e| e.event_type).collect())
}

fn fault_of(result: refold::Result<Vec<String>>) -> (String, &'static str, GuestFault) {
    match result {
        Err(Error::Guest {
            module,
            function,
            fault,
        }) => (module, function, fault),
        other => panic!("expected a guest fault, got {other:?}"),
    }
}

/// After a fault, the same module serves the next call (on a fresh instance).
fn assert_still_serving(module: &Module) {
    assert_eq!(decide(module, "Fine").unwrap(), ["Done"]);
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    assert_still_serving(&module);

    let started = Instant::now();
    let (name, function, fault) = fault_of(decide(&module, "Loop"));
    let took = started.elapsed();
    assert_eq!((name.as_str(), function), ("faulty", "decide"));
    assert_eq!(fault, GuestFault::Deadline(Duration::from_millis(200)));
    assert!(
        took < Duration::from_secs(2),
        "the loop ran {took:?} past a 200 ms deadline"
    );
    assert_still_serving(&module);
}

#[test]
fn unbounded_allocation_hits_the_memory_limit_and_host_memory_stays_bounded() {
    // A generous deadline: this test is about memory, and a loaded machine must not
    // turn it into a deadline fault.
    let runtime = Runtime::new(RuntimeConfig {
        call_timeout: Duration::from_secs(30),
        memory_limit: 64 << 20,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    assert_still_serving(&module);
    let rss_before = resident_bytes();

    for _ in 0..5 {
        let (_, function, fault) = fault_of(decide(&module, "Grow"));
        assert_eq!(function, "decide");
        match fault {
            GuestFault::MemoryLimit { limit, requested } => {
                assert_eq!(limit, 64 << 20);
                assert!(requested > limit);
            }
            other => panic!("expected a memory-limit fault, got {other:?}"),
        }
        assert_still_serving(&module);
    }
    let grown = resident_bytes().saturating_sub(rss_before);
    assert!(
        grown < 3 * (64 << 20),
        "host RSS grew by {grown} bytes over five 64 MiB-capped runaway guests"
    );
}

#[test]
fn a_panic_is_a_trap_that_carries_the_guest_message() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    let (_, _, fault) = fault_of(decide(&module, "Panic"));
    match fault {
        GuestFault::Trap(message) => {
            assert!(
                message.contains("the faulty guest panics on purpose"),
                "{message}"
            );
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_still_serving(&module);
}

#[test]
fn malformed_events_from_decide_are_refused() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    for (command, expected) in [
        ("NotJson", "event 0: data is not JSON"),
        (
            "NotObject",
            "event 0: data is JSON but not an object: [1, 2, 3]",
        ),
        ("EmptyType", "event 0: the event type is empty"),
    ] {
        let (_, function, fault) = fault_of(decide(&module, command));
        assert_eq!(function, "decide");
        match fault {
            GuestFault::Malformed(message) => {
                assert!(message.starts_with(expected), "{command}: {message}")
            }
            other => panic!("{command}: expected a malformed-value fault, got {other:?}"),
        }
        assert_still_serving(&module);
    }
}

#[test]
fn the_sandbox_grants_no_files_environment_or_network() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    let events = module
        .decide(&[], r#"{"type":"Observe"}"#)
        .unwrap()
        .unwrap();
    let seen: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    assert_ne!(seen["file"], "readable", "{seen}");
    assert_eq!(seen["env"], 0, "{seen}");
    assert_ne!(seen["net"], "connected", "{seen}");
}

#[test]
fn guest_output_goes_to_tracing_under_the_module_name() {
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || CapturedWriter(writer.clone()))
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = strict_runtime();
        let module = runtime.load("loud", &guests::wasm(FAULTY)).unwrap();
        module.decide(&[], r#"{"type":"Print"}"#).unwrap().unwrap();
    });
    let logs = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    let line = |stream: &str| {
        logs.lines().any(|l| {
            l.contains("module=loud")
                && l.contains(&format!("stream=\"{stream}\""))
                && l.contains(&format!("hello from the faulty guest on {stream}"))
        })
    };
    assert!(line("stdout"), "{logs}");
    assert!(line("stderr"), "{logs}");
}

struct CapturedWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// This process's resident set size, from /proc.
fn resident_bytes() -> usize {
    let status =
        std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS is reported");
    kib * 1024
}

#[test]
fn a_guest_that_sleeps_wakes_at_once() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    let started = Instant::now();
    let events = module
        .decide(&[], r#"{"type":"Sleep","data":{"seconds":3600}}"#)
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(events[0].event_type, "Slept");
    assert!(
        took < Duration::from_secs(5),
        "a guest sleeping an hour held its call for {took:?}"
    );
    assert_still_serving(&module);
}

#[test]
fn random_numbers_differ_per_call_and_repeat_for_the_same_call() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    let uuids = |module: &Module, state: &[u8], command: &str| -> Vec<String> {
        let events = module.decide(state, command).unwrap().unwrap();
        let data: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
        data["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    };
    let command = r#"{"type":"Uuids"}"#;
    let first = uuids(&module, b"state-1", command);
    assert_ne!(first[0], first[1], "two draws of one call differ");
    assert!(
        !first.iter().any(|id| id.starts_with("5eed5eed")),
        "the ids are not the old constant: {first:?}"
    );
    let other_state = uuids(&module, b"state-2", command);
    let other_command = uuids(&module, b"state-1", r#"{"type":"Uuids","n":2}"#);
    assert_ne!(first, other_state, "another state draws other numbers");
    assert_ne!(first, other_command, "another command draws other numbers");
    // The same call again, on this warm instance and on a fresh module, draws the same.
    assert_eq!(uuids(&module, b"state-1", command), first);
    let fresh = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    assert_eq!(uuids(&fresh, b"state-1", command), first);
}

#[test]
fn a_decision_for_a_stream_draws_numbers_of_that_stream_and_version() {
    let runtime = strict_runtime();
    let module = runtime.load("faulty", &guests::wasm(FAULTY)).unwrap();
    let command = r#"{"type":"Uuids"}"#;
    let uuids = |partition: &str, stream: &str, version: u64| -> Vec<String> {
        let context = DeciderContext {
            stream_id: Some(stream.to_owned()),
            partition: partition.to_owned(),
            version,
            metadata: "{}".to_owned(),
        };
        let events = module
            .decide_in(&context, b"state", command)
            .unwrap()
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
        serde_json::from_value(data["ids"].clone()).unwrap()
    };
    let first = uuids("default", "order-1", 0);
    // Two new orders given the same command do not get the same ids.
    assert_ne!(first, uuids("default", "order-2", 0), "another stream");
    assert_ne!(first, uuids("other", "order-1", 0), "another partition");
    assert_ne!(first, uuids("default", "order-1", 1), "another version");
    // The same decision again (a retry, another node) draws the same.
    assert_eq!(first, uuids("default", "order-1", 0));
}
