//! The JSON shapes Refold speaks over HTTP and prints on the command line: events with
//! their data inline as JSON (not as strings), exactly as stored, and the bodies clients send.

use crate::commands::CommandOutcome;
use crate::projections::Page;
use crate::store::{AppendCondition, AppendOutcome, RecordedEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A stored event as the API (and the command line) shows it: its data and metadata
/// inline as JSON, exactly as stored, and its `tags` when it has any (the key is left
/// out for an untagged event).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    global_position: u64,
    partition: &'a str,
    stream: &'a str,
    stream_position: u64,
    id: String,
    #[serde(rename = "type")]
    event_type: &'a str,
    data: StoredJson<'a>,
    metadata: StoredJson<'a>,
    recorded_at: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

impl<'a> EventView<'a> {
    /// The view of `event`.
    pub fn of(event: &'a RecordedEvent) -> Self {
        EventView {
            global_position: event.global_position,
            partition: &event.partition,
            stream: &event.stream,
            stream_position: event.stream_position,
            id: event.id.to_string(),
            event_type: &event.event_type,
            data: StoredJson(&event.data),
            metadata: StoredJson(&event.metadata),
            recorded_at: &event.recorded_at,
            tags: &event.tags,
        }
    }
}

/// An event in its stored form, every field, as `refold export` writes it and
/// `refold import` reads it back ([`StoredEventBody`]): one JSON object per line,
/// `{"position", "partition", "stream", "streamPosition", "id", "type", "data",
/// "metadata", "recordedAt", "tags"?}`, data and metadata inline as JSON exactly as
/// stored, `tags` only for an event that has any (so a log without tags exports as it
/// did before tags existed).
///
/// Two changes keep each event on one line, neither of which changes the JSON value:
/// whitespace around data and metadata is left out, and a line break between their
/// tokens (JSON strings cannot hold one) is written as a space. An import of the line
/// stores what it holds, so exporting the imported log gives the same lines.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEventView<'a> {
    position: u64,
    partition: &'a str,
    stream: &'a str,
    stream_position: u64,
    id: uuid::Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(serialize_with = "one_line")]
    data: &'a str,
    #[serde(serialize_with = "one_line")]
    metadata: &'a str,
    recorded_at: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

impl<'a> StoredEventView<'a> {
    /// The stored form of `event`.
    pub fn of(event: &'a RecordedEvent) -> Self {
        StoredEventView {
            position: event.global_position,
            partition: &event.partition,
            stream: &event.stream,
            stream_position: event.stream_position,
            id: event.id,
            event_type: &event.event_type,
            data: &event.data,
            metadata: &event.metadata,
            recorded_at: &event.recorded_at,
            tags: &event.tags,
        }
    }
}

/// Stored JSON text inline, on one line; text that is not JSON fails the
/// serialization rather than being replaced.
fn one_line<S: serde::Serializer>(json: &str, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error as _;
    let not_json = |e: serde_json::Error| S::Error::custom(format!("stored JSON is broken: {e}"));
    if json.contains(['\n', '\r']) {
        let spaced = json.replace(['\n', '\r'], " ");
        serde_json::from_str::<&RawValue>(&spaced)
            .map_err(not_json)?
            .serialize(serializer)
    } else {
        serde_json::from_str::<&RawValue>(json)
            .map_err(not_json)?
            .serialize(serializer)
    }
}

/// One line of a `refold export` file ([`StoredEventView`]), read back: every field
/// required but `tags` (none when absent), nothing else allowed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredEventBody {
    position: u64,
    partition: String,
    stream: String,
    stream_position: u64,
    id: uuid::Uuid,
    #[serde(rename = "type")]
    event_type: String,
    data: Box<RawValue>,
    metadata: Box<RawValue>,
    recorded_at: String,
    #[serde(default)]
    tags: Vec<String>,
}

impl StoredEventBody {
    /// The event the line holds, its data and metadata as written in it.
    pub fn into_event(self) -> RecordedEvent {
        RecordedEvent {
            global_position: self.position,
            partition: self.partition,
            stream: self.stream,
            stream_position: self.stream_position,
            id: self.id,
            event_type: self.event_type,
            data: Box::<str>::from(self.data).into_string(),
            metadata: Box::<str>::from(self.metadata).into_string(),
            recorded_at: self.recorded_at,
            tags: self.tags,
        }
    }
}

/// Stored JSON text, written inline exactly as stored. Everything stored is checked to
/// be JSON on the way in; a text stored before a check existed that is not JSON is
/// written as a JSON string of the text, never replaced by something else.
struct StoredJson<'a>(&'a str);

impl Serialize for StoredJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_str(self.0),
        }
    }
}

/// What a handled command returns, with its events as [`EventView`]s.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeView<'a> {
    events: Vec<EventView<'a>>,
    stream_version: u64,
    position: Option<u64>,
    module: &'a str,
    module_version: u64,
    attempts: u32,
    command_id: &'a str,
}

impl<'a> OutcomeView<'a> {
    /// The view of `outcome`.
    pub fn of(outcome: &'a CommandOutcome) -> Self {
        OutcomeView {
            events: outcome.events.iter().map(EventView::of).collect(),
            stream_version: outcome.stream_version,
            position: outcome.position,
            module: &outcome.module,
            module_version: outcome.module_version,
            attempts: outcome.attempts,
            command_id: &outcome.command_id,
        }
    }
}

/// What an append returns, in the API's camelCase like every other body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppendView<'a> {
    stream_version: u64,
    first_position: u64,
    last_position: u64,
    recorded_at: &'a str,
}

impl<'a> AppendView<'a> {
    /// The view of `outcome`.
    pub(crate) fn of(outcome: &'a AppendOutcome) -> Self {
        AppendView {
            stream_version: outcome.stream_version,
            first_position: outcome.first_position,
            last_position: outcome.last_position,
            recorded_at: &outcome.recorded_at,
        }
    }
}

/// A page of read-model documents as the API (and the command line) shows it: each
/// document inline as JSON, as a single document is.
#[derive(Serialize)]
pub struct PageView<'a> {
    documents: Vec<DocumentView<'a>>,
    next: Option<&'a str>,
}

#[derive(Serialize)]
struct DocumentView<'a> {
    id: &'a str,
    document: StoredJson<'a>,
}

impl<'a> PageView<'a> {
    /// The view of `page`.
    pub fn of(page: &'a Page) -> Self {
        PageView {
            documents: page
                .documents
                .iter()
                .map(|d| DocumentView {
                    id: &d.id,
                    document: StoredJson(&d.document),
                })
                .collect(),
            next: page.next.as_deref(),
        }
    }
}

/// The body of an append.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AppendBody {
    /// `"any"`, `"no-stream"`, `"exists"` or a version number; the
    /// `Expected-Version` header may give it instead.
    pub(crate) expected_version: Option<serde_json::Value>,
    pub(crate) events: Vec<NewEventBody>,
}

/// The body of an append to several streams at once (`POST /streams`): every append
/// commits, or none does; with a `condition`, none does if events matching its query
/// are stored after its position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppendsBody {
    pub(crate) appends: Vec<StreamAppendBody>,
    pub(crate) condition: Option<AppendCondition>,
}

/// One stream's part of an append to several streams.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StreamAppendBody {
    pub(crate) stream: String,
    /// The stream's partition; `default` when absent.
    pub(crate) partition: Option<String>,
    /// `"any"` (when absent), `"no-stream"`, `"exists"` or a version number.
    pub(crate) expected_version: Option<serde_json::Value>,
    pub(crate) events: Vec<NewEventBody>,
}

/// What an append to several streams returns: each stream's outcome, in request order.
#[derive(Serialize)]
pub(crate) struct AppendsView<'a> {
    appends: Vec<StreamAppendView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamAppendView<'a> {
    stream: &'a str,
    partition: &'a str,
    #[serde(flatten)]
    outcome: AppendView<'a>,
}

impl<'a> AppendsView<'a> {
    /// The view of the outcomes of `requests`, in their order.
    pub(crate) fn of(requests: &'a [(String, String)], outcomes: &'a [AppendOutcome]) -> Self {
        AppendsView {
            appends: requests
                .iter()
                .zip(outcomes)
                .map(|((partition, stream), outcome)| StreamAppendView {
                    stream,
                    partition,
                    outcome: AppendView::of(outcome),
                })
                .collect(),
        }
    }
}

/// One event of an append.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEventBody {
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    pub(crate) data: Box<RawValue>,
    pub(crate) metadata: Option<Box<RawValue>>,
    /// Optional id; resending an append with the same ids is idempotent.
    pub(crate) id: Option<uuid::Uuid>,
    /// Optional tags, for queries and append conditions.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::StoredJson;

    #[test]
    fn stored_json_is_written_as_stored_and_other_text_as_a_string_never_replaced() {
        let written = |text: &str| serde_json::to_string(&StoredJson(text)).unwrap();
        assert_eq!(written(r#"{"a": [1, 2]}"#), r#"{"a": [1, 2]}"#);
        assert_eq!(written("this is not json"), r#""this is not json""#);
        assert_eq!(written(""), r#""""#);
    }
}
