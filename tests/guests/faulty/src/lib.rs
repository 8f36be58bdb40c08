//! A decider that misbehaves on request, so tests can prove the sandbox holds.
//!
//! `decide` reads the command's `type` and loops forever, allocates without bound,
//! panics, returns malformed events, spins for a while, sleeps, reports what the
//! sandbox lets it see, makes random v4 UUIDs, or prints to stdout and stderr.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "refold:domain/decider-module",
});

use exports::refold::domain::decider::{DecideError, DeciderContext, Event, Guest, NewEvent};

struct Faulty;

fn event(event_type: &str, data: String) -> NewEvent {
    NewEvent {
        event_type: event_type.to_owned(),
        data,
        metadata: None,
        stream_id: None,
        tags: Vec::new(),
    }
}

impl Guest for Faulty {
    fn initial_state() -> Vec<u8> {
        Vec::new()
    }

    fn evolve(state: Vec<u8>, events: Vec<Event>) -> Result<Vec<u8>, String> {
        match events.iter().find(|e| e.event_type == "Unfoldable") {
            Some(e) => Err(format!("cannot fold event {}", e.global_position)),
            None => Ok(state),
        }
    }

    fn decide(
        _context: DeciderContext,
        _state: Vec<u8>,
        command: String,
    ) -> Result<Vec<NewEvent>, DecideError> {
        let command: serde_json::Value = serde_json::from_str(&command)
            .map_err(|e| DecideError::InvalidCommand(e.to_string()))?;
        match command["type"].as_str().unwrap_or_default() {
            "Loop" => loop {
                std::hint::black_box(());
            },
            "Grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "Panic" => panic!("the faulty guest panics on purpose"),
            "NotJson" => Ok(vec![event("Broken", "this is not json".to_owned())]),
            "NotObject" => Ok(vec![event("Broken", "[1, 2, 3]".to_owned())]),
            "EmptyType" => Ok(vec![event("", "{}".to_owned())]),
            "LoneSurrogate" => Ok(vec![event("Broken", r#"{"text":"\ud800"}"#.to_owned())]),
            "Sleep" => {
                let seconds = command["data"]["seconds"].as_u64().unwrap_or(3600);
                std::thread::sleep(std::time::Duration::from_secs(seconds));
                Ok(vec![event("Slept", format!("{{\"seconds\":{seconds}}}"))])
            }
            "Uuids" => {
                let ids = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
                Ok(vec![event(
                    "Uuids",
                    serde_json::json!({ "ids": ids }).to_string(),
                )])
            }
            "Spin" => {
                let iterations = command["data"]["iterations"].as_u64().unwrap_or(0);
                let mut x = 0u64;
                for i in 0..iterations {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(i ^ (x >> 29));
                }
                Ok(vec![event("Spun", format!("{{\"sum\":{x}}}"))])
            }
            "Observe" => {
                let file = match std::fs::read("/etc/hostname") {
                    Ok(_) => "readable".to_owned(),
                    Err(e) => e.to_string(),
                };
                let env = std::env::vars().count();
                let net = match std::net::TcpStream::connect("127.0.0.1:9") {
                    Ok(_) => "connected".to_owned(),
                    Err(e) => e.to_string(),
                };
                let data = serde_json::json!({ "file": file, "env": env, "net": net });
                Ok(vec![event("Observed", data.to_string())])
            }
            "Print" => {
                println!("hello from the faulty guest on stdout");
                eprintln!("hello from the faulty guest on stderr");
                Ok(vec![event("Printed", "{}".to_owned())])
            }
            "Nothing" => Ok(Vec::new()),
            "Reject" => Err(DecideError::Rejected("no, on purpose".to_owned())),
            other => Ok(vec![event(
                "Done",
                format!("{{\"command\":{}}}", serde_json::json!(other)),
            )]),
        }
    }
}

export!(Faulty);
