//! The decision path a component runs, called natively: commands without data, the
//! two kinds of refusal, and the context `decide` is given.

use refold_guest::{Context, DecideError, Decider, Rejection, wire};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Default)]
struct Door {
    open: bool,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "data")]
enum Command {
    Open,
    Close {},
    Knock { times: u32 },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum Event {
    Opened { by: String },
    Closed,
}

struct DoorDecider;

impl Decider for DoorDecider {
    type State = Door;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Door {
        Door::default()
    }

    fn evolve(mut state: Door, event: Event) -> Door {
        state.open = matches!(event, Event::Opened { .. });
        state
    }

    fn decide(command: Command, state: &Door, context: &Context) -> Result<Vec<Event>, Rejection> {
        match command {
            Command::Open if state.open => Err(Rejection::new("the door is open already")),
            Command::Open => Ok(vec![Event::Opened {
                by: context.stream_id.clone().unwrap_or_default(),
            }]),
            Command::Close {} => Ok(vec![Event::Closed]),
            Command::Knock { times: 0 } => Err(Rejection::invalid_command("knock at least once")),
            Command::Knock { .. } => Ok(Vec::new()),
        }
    }
}

fn decide(command: &str) -> Result<Vec<refold_guest::NewEvent>, DecideError> {
    let context = Context {
        stream_id: Some("door-1".to_owned()),
        ..Context::default()
    };
    wire::decide::<DoorDecider>(&context, &wire::initial_state::<DoorDecider>(), command)
}

#[test]
fn a_command_without_data_may_send_an_empty_object_null_or_nothing() {
    for command in [
        r#"{"type":"Open"}"#,
        r#"{"type":"Open","data":{}}"#,
        r#"{"type":"Open","data":null}"#,
        r#"{"type":"Close"}"#,
        r#"{"type":"Close","data":{ }}"#,
    ] {
        let events = decide(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(events.len(), 1, "{command}");
    }
    let refused = decide(r#"{"type":"Knock","data":{}}"#).unwrap_err();
    assert!(
        matches!(&refused, DecideError::InvalidCommand(m) if m.contains("times")),
        "a command whose data is missing fields is still invalid: {refused:?}"
    );
}

#[test]
fn decide_sees_its_stream_and_answers_a_rejection_or_an_invalid_command() {
    let opened = decide(r#"{"type":"Open"}"#).unwrap();
    assert_eq!(opened[0].event_type, "Opened");
    assert_eq!(opened[0].data, r#"{"by":"door-1"}"#);
    assert_eq!(
        opened[0].stream_id, None,
        "a stream decider leaves the stream out"
    );

    assert_eq!(
        decide(r#"{"type":"Knock","data":{"times":0}}"#),
        Err(DecideError::InvalidCommand(
            "knock at least once".to_owned()
        ))
    );
    let open = serde_json::to_vec(&Door { open: true }).unwrap();
    assert_eq!(
        wire::decide::<DoorDecider>(&Context::default(), &open, r#"{"type":"Open"}"#),
        Err(DecideError::Rejected("the door is open already".to_owned()))
    );
}
