//! A command never fails after its events are written: the decided events are folded
//! before the append, so an `evolve` that fails on them fails the command with nothing
//! written, and the stream stays loadable.

use super::{command, head, mib, ordinary_command, serve};
use crate::support::guests::UNFOLDABLE;
use crate::support::server::{agent, get};

#[test]
fn a_decided_event_that_evolve_cannot_fold_fails_the_command_with_nothing_written() {
    let (_db, server) = serve(UNFOLDABLE, &["--guest-memory", "32MiB"]);
    let agent = agent();
    let idle = server.rss();

    for (event, says) in [
        ("Unfoldable", "cannot fold event 1 of stream u-1"),
        ("Trap", "the unfoldable guest traps on purpose"),
        ("Bloat", "memory limit"),
    ] {
        for _ in 0..5 {
            let answer = command(
                &agent,
                &server,
                UNFOLDABLE,
                "u-1",
                &format!(r#"{{"type":"{event}"}}"#),
            );
            let error = answer.error(500, "guest-fault");
            assert_eq!(error["module"], UNFOLDABLE, "{answer:?}");
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("failed in evolve") && message.contains(says),
                "{event}: {message}"
            );
            assert_eq!(
                head(&agent, &server),
                0,
                "a failed {event} command wrote events"
            );
        }
    }
    let stream = get(&agent, &server.url("/streams/u-1"));
    assert_eq!(stream.ok()["events"], serde_json::json!([]), "{stream:?}");

    let added = ordinary_command(
        &agent,
        &server,
        UNFOLDABLE,
        "u-1",
        r#"{"type":"Added"}"#,
        "15 failed commands",
    );
    assert_eq!(added["streamVersion"], 1, "{added}");
    let stored = &added["events"][0];
    assert_eq!(
        (&stored["type"], &stored["globalPosition"]),
        (&"Added".into(), &1.into())
    );

    // What evolve saw of the event before it was appended: the id it was stored with,
    // its stream and position, but no global position and no recorded-at yet.
    let echoed = command(&agent, &server, UNFOLDABLE, "u-1", r#"{"type":"Echo"}"#);
    let seen = &echoed.ok()["events"][0]["data"];
    assert_eq!(seen["folded"], 1, "{seen}");
    let last = &seen["last"];
    assert_eq!(last["eventId"], stored["id"], "{seen}");
    assert_eq!(
        (
            &last["streamId"],
            &last["streamPosition"],
            &last["partition"]
        ),
        (&"u-1".into(), &1.into(), &"default".into()),
        "{seen}"
    );
    assert_eq!(
        (&last["globalPosition"], &last["recordedAt"]),
        (&0.into(), &"".into()),
        "{seen}"
    );
    assert_eq!(head(&agent, &server), 2);

    let after = server.rss();
    let bound = 2 * idle + (128 << 20);
    eprintln!(
        "RSS idle {}, after 15 failed commands {} (bound {})",
        mib(idle),
        mib(after),
        mib(bound)
    );
    assert!(
        after <= bound,
        "the server's RSS went from {} idle to {} after 15 failed commands (bound {})",
        mib(idle),
        mib(after),
        mib(bound)
    );
    server.stop();
}
