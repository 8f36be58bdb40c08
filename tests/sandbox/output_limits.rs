//! What one `decide` may return and what one append may carry are bounded: a guest
//! over the limits is a guest fault naming the module (its output is not read past
//! them), a client over them a 400 saying which limit and by how much.

use super::{command, head, serve};
use crate::support::guests::FLOOD;
use crate::support::server::{agent, post};

const MAX_EVENTS: u64 = 100;
const MAX_BYTES: u64 = 64 << 10;

fn flood(count: u64, bytes: u64) -> String {
    format!(r#"{{"type":"Flood","count":{count},"bytes":{bytes}}}"#)
}

fn events(count: u64, bytes: u64) -> String {
    let pad = "x".repeat(bytes as usize);
    let events: Vec<String> = (0..count)
        .map(|_| format!(r#"{{"type":"Sent","data":{{"pad":"{pad}"}}}}"#))
        .collect();
    format!(r#"{{"events":[{}]}}"#, events.join(","))
}

#[test]
fn output_over_the_decide_limits_is_a_guest_fault_and_an_append_over_them_a_client_error() {
    let (_db, server) = serve(
        FLOOD,
        &[
            "--max-events-per-append",
            &MAX_EVENTS.to_string(),
            "--max-append-bytes",
            &MAX_BYTES.to_string(),
        ],
    );
    let agent = agent();
    let refused = |answer: crate::support::server::Answer, measure: &str| {
        let error = answer.error(500, "guest-output-too-large").clone();
        assert_eq!(error["module"], FLOOD, "{error}");
        assert_eq!(error["details"]["measure"], measure, "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("failed in decide"),
            "{error}"
        );
        assert_eq!(head(&agent, &server), 0, "a refused decide wrote events");
        error["details"].clone()
    };

    let details = refused(
        command(&agent, &server, FLOOD, "f-1", &flood(MAX_EVENTS + 1, 16)),
        "events",
    );
    assert_eq!(
        (details["limit"].as_u64(), details["value"].as_u64()),
        (Some(MAX_EVENTS), Some(MAX_EVENTS + 1))
    );

    // Over the bytes, but close enough that the host reads it all and counts.
    let details = refused(
        command(&agent, &server, FLOOD, "f-1", &flood(1, MAX_BYTES + 1000)),
        "bytes",
    );
    assert_eq!(details["limit"].as_u64(), Some(MAX_BYTES), "{details}");
    assert!(details["value"].as_u64().unwrap() > MAX_BYTES, "{details}");

    // Far over: the copy out of the guest stops at its limit, before the host holds it.
    for (count, bytes) in [(1, 8 << 20), (100_000, 16)] {
        let details = refused(
            command(&agent, &server, FLOOD, "f-1", &flood(count, bytes)),
            "bytes",
        );
        assert!(details["limit"].as_u64().unwrap() >= MAX_BYTES, "{details}");
        assert!(details["value"].is_null(), "{details}");
    }

    let within = command(&agent, &server, FLOOD, "f-1", &flood(MAX_EVENTS, 16));
    assert_eq!(within.ok()["streamVersion"], MAX_EVENTS);
    let appended = |body: &str| post(&agent, &server.url("/streams/c-1"), body, None);
    for (body, measure, limit) in [
        (events(MAX_EVENTS + 1, 1), "events", MAX_EVENTS),
        (events(2, MAX_BYTES / 2), "bytes", MAX_BYTES),
    ] {
        let answer = appended(&body);
        let error = answer.error(400, "append-too-large");
        assert_eq!(error["details"]["measure"], measure, "{answer:?}");
        assert_eq!(
            error["details"]["limit"].as_u64(),
            Some(limit),
            "{answer:?}"
        );
        assert!(
            error["details"]["value"].as_u64().unwrap() > limit,
            "{answer:?}"
        );
        assert_eq!(
            head(&agent, &server),
            MAX_EVENTS,
            "a refused append wrote events"
        );
    }
    assert_eq!(appended(&events(2, 10)).ok()["streamVersion"], 2);
    let next = command(&agent, &server, FLOOD, "f-1", r#"{"type":"Once"}"#);
    assert_eq!(next.ok()["streamVersion"], MAX_EVENTS + 1);
    server.stop();
}
