//! A command's metadata: the decider sees the command without it, every event carries
//! the caller's keys and Refold's (`metadata.refold`), from the first source that
//! gives each, and `evolve` sees them as stored.

use crate::support::{TestStore, block_on, both_backends};
use refold::Error;
use refold::commands::{
    CommandConfig, CommandHandler, CommandRequest, DeciderLogic, RefoldKeys, StreamAt,
};
use refold::runtime::{DecideError, NewEvent, Runtime, RuntimeConfig};
use refold::store::RecordedEvent;
use serde_json::{Value, json};
use std::sync::Arc;

/// A decider that echoes the command it is given, and the metadata its context holds,
/// into its one event, with metadata of its own (a forged `refold` included); its state
/// is the metadata of the last event it folded.
struct Echo;

impl DeciderLogic for Echo {
    fn identity(&self) -> &str {
        "native:echo"
    }
    fn name(&self) -> &str {
        "echo"
    }
    fn version(&self) -> u64 {
        0
    }
    fn initial_state(&self) -> refold::Result<Vec<u8>> {
        Ok(b"{}".to_vec())
    }
    fn evolve(&self, state: &[u8], events: &[RecordedEvent]) -> refold::Result<Vec<u8>> {
        Ok(events
            .last()
            .map_or(state.to_vec(), |e| e.metadata.clone().into_bytes()))
    }
    fn decide(
        &self,
        stream: StreamAt<'_>,
        _state: &[u8],
        command: &str,
    ) -> refold::Result<Result<Vec<NewEvent>, DecideError>> {
        let context: Value = serde_json::from_str(stream.metadata).unwrap();
        Ok(Ok(vec![NewEvent {
            event_type: "Echoed".to_owned(),
            data: json!({ "command": command, "context": context }).to_string(),
            metadata: Some(r#"{"by":"decider","refold":{"commandId":"forged"}}"#.to_owned()),
            stream_id: None,
            tags: Vec::new(),
        }]))
    }
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

both_backends! {
fn every_event_carries_the_commands_metadata_and_the_decider_sees_the_command_without_it(backend: Backend) {
    // Native logic: no module to deploy.
    let store = TestStore::new(backend);
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let handler = CommandHandler::new(store.shared(), runtime, CommandConfig::default());
    let echo: Arc<dyn DeciderLogic> = Arc::new(Echo);
    let handle = |envelope: &str, keys: RefoldKeys| {
        let request = CommandRequest::new("echo-1", envelope).with_keys(keys);
        block_on(handler.handle_request_with(echo.clone(), request))
    };
    let metadata = |event: &RecordedEvent| serde_json::from_str::<Value>(&event.metadata).unwrap();

    // Keys beside the envelope (a traceparent header) win over the envelope's own.
    let headers = RefoldKeys {
        traceparent: Some(TRACEPARENT.to_owned()),
        ..RefoldKeys::default()
    };
    let outcome = handle(
        r#"{"type":"Echo","metadata":{"tenant":"t-1","by":"ann","refold":{"correlationId":"c-1","causationId":"event-7"}},"data":{"n":1.50}}"#,
        headers,
    )
    .unwrap();
    let event = &outcome.events[0];
    let data: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(data["command"], r#"{"type":"Echo","data":{"n":1.50}}"#);
    assert_eq!(
        data["context"],
        json!({
            "tenant": "t-1",
            "by": "ann",
            "refold": {
                "commandId": outcome.command_id,
                "correlationId": TRACE_ID,
                "causationId": "event-7",
                "traceparent": TRACEPARENT,
            },
        }),
        "the decider's context holds the command's metadata"
    );
    assert_eq!(
        metadata(event),
        json!({
            "tenant": "t-1",
            "by": "decider",
            "refold": {
                "commandId": outcome.command_id,
                "correlationId": TRACE_ID,
                "causationId": "event-7",
                "traceparent": TRACEPARENT,
            },
        })
    );
    assert_ne!(outcome.command_id, "forged");
    let (state, _) = block_on(handler.load(echo.clone(), "default", "echo-1")).unwrap();
    assert_eq!(String::from_utf8(state).unwrap(), event.metadata, "evolve sees it as stored");

    // The envelope's correlation id when nothing beside it gives one; generated ids
    // otherwise, all the command's.
    let outcome = handle(
        r#"{"type":"Echo","metadata":{"refold":{"correlationId":"c-1"}}}"#,
        RefoldKeys::default(),
    )
    .unwrap();
    assert_eq!(metadata(&outcome.events[0])["refold"]["correlationId"], "c-1");
    let outcome = handle(r#"{"type":"Echo"}"#, RefoldKeys::default()).unwrap();
    let generated = &metadata(&outcome.events[0])["refold"];
    let id = json!(outcome.command_id);
    assert_eq!(
        (&generated["commandId"], &generated["correlationId"], &generated["causationId"]),
        (&id, &id, &id)
    );
    assert_eq!(metadata(&outcome.events[0]).as_object().unwrap().len(), 2, "{generated}");

    // Keys that cannot be used are refused before the decider sees the command.
    let before = store.head();
    for (envelope, keys, field) in [
        (r#"{"type":"Echo","metadata":{"refold":{"userId":"u"}}}"#, RefoldKeys::default(), Some("/metadata/refold/userId")),
        (r#"{"type":"Echo","metadata":"by ann"}"#, RefoldKeys::default(), Some("/metadata")),
        (
            r#"{"type":"Echo"}"#,
            RefoldKeys {
                traceparent: Some("00-not-a-trace".to_owned()),
                ..RefoldKeys::default()
            },
            None,
        ),
    ] {
        match handle(envelope, keys) {
            Err(Error::MalformedCommand { field: got, .. }) => {
                assert_eq!(got.as_deref(), field, "{envelope}")
            }
            other => panic!("expected {envelope} to be refused, got {other:?}"),
        }
    }
    assert_eq!(store.head(), before);
}
}
