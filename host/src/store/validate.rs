//! Checks an append, or an import, before it reaches the writer.
//!
//! The writer thread is the store's one serial resource, so everything that can be
//! decided from the request alone (names present, JSON shape, sizes, ids distinct) is
//! decided here, on the caller's thread. A refused append names what was wrong and the
//! index of the offending event, and nothing is written.

use super::{
    AppendCondition, AppendLimits, AppendRequest, Appends, ListQuery, LogFilter, MAX_NAME_BYTES,
    MAX_QUERY_ITEMS, MAX_QUERY_TYPES, MAX_TAG_BYTES, MAX_TAGS, Query, RecordedEvent,
};
use crate::json::{self, NotAnObject};
use crate::{Error, Result};
use std::collections::{HashMap, HashSet};

/// A name the store keys events (or command records) by, or keeps on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// A stream id.
    Stream,
    /// A partition name.
    Partition,
    /// A command's id (`Idempotency-Key`, `metadata.refold.commandId`, `--id`).
    CommandId,
    /// A command's correlation id (`X-Correlation-Id`, `metadata.refold.correlationId`).
    CorrelationId,
    /// A command's causation id (`metadata.refold.causationId`).
    CausationId,
}

/// Why `name` cannot be used as a `kind` of name: it is empty, longer than
/// [`MAX_NAME_BYTES`], or holds a control character.
pub(crate) fn check_name(kind: Name, name: &str) -> std::result::Result<(), String> {
    let what = match kind {
        Name::Stream => "the stream id",
        Name::Partition => "the partition",
        Name::CommandId => "the command id",
        Name::CorrelationId => "the correlation id",
        Name::CausationId => "the causation id",
    };
    if name.is_empty() {
        return Err(match kind {
            Name::Stream => "the stream id is empty: name the stream (e.g. 'cart-42')".to_owned(),
            Name::Partition => "the partition is empty: name one (e.g. 'default')".to_owned(),
            _ => format!("{what} is empty: give one (e.g. a UUID), or leave it out"),
        });
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} is {} bytes, over the {MAX_NAME_BYTES}-byte limit: use a shorter name",
            name.len()
        ));
    }
    if let Some((at, control)) = name.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "{what} holds the control character U+{:04X} at byte {at}: use printable text",
            u32::from(control)
        ));
    }
    Ok(())
}

/// Whether `partition` and `stream` can name a stored stream at all: a read of one
/// that cannot (a NUL byte, which PostgreSQL text cannot even hold) has nothing to find.
pub(crate) fn storable(partition: &str, stream: &str) -> bool {
    check_name(Name::Partition, partition).is_ok() && check_name(Name::Stream, stream).is_ok()
}

/// Why `tag` cannot be an event's tag (or be looked for): it is empty, longer than
/// [`MAX_TAG_BYTES`], or holds a control character. Worded to follow "tag N".
fn check_tag(tag: &str) -> std::result::Result<(), String> {
    if tag.is_empty() {
        return Err("is empty: give it a name (e.g. 'course:c1')".to_owned());
    }
    if tag.len() > MAX_TAG_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_TAG_BYTES}-byte limit: use a shorter tag",
            tag.len()
        ));
    }
    if let Some((at, control)) = tag.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "holds the control character U+{:04X} at byte {at}: use printable text",
            u32::from(control)
        ));
    }
    Ok(())
}

/// Why an event cannot carry `tags`: more than [`MAX_TAGS`], a tag [`check_tag`]
/// refuses, or a tag given twice; the JSON pointer of the offending value within the
/// event, and the reason.
fn check_event_tags(tags: &[String]) -> std::result::Result<(), (String, String)> {
    if tags.len() > MAX_TAGS {
        return Err((
            "/tags".to_owned(),
            format!(
                "it carries {} tags, over the limit of {MAX_TAGS} per event: tag it only with \
                 what queries look for",
                tags.len()
            ),
        ));
    }
    for (index, tag) in tags.iter().enumerate() {
        if let Err(why) = check_tag(tag) {
            return Err((format!("/tags/{index}"), format!("tag {index} {why}")));
        }
        if tags[..index].contains(tag) {
            return Err((
                format!("/tags/{index}"),
                format!("tag {index} ('{tag}') is given twice: give each tag once"),
            ));
        }
    }
    Ok(())
}

/// Refuse `query` with [`Error::InvalidEventQuery`] unless it has between 1 and
/// [`MAX_QUERY_ITEMS`] items, each naming at most [`MAX_QUERY_TYPES`] types (none
/// empty or holding a control character) and at most [`MAX_TAGS`] tags (each one an
/// event could carry). `at` is the JSON pointer of the query in what the client sent
/// (empty for a query of its own).
pub(crate) fn check_query(query: &Query, at: &str) -> Result<()> {
    let refuse = |field: String, reason: String| {
        Err(Error::InvalidEventQuery {
            reason,
            field: Some(format!("{at}{field}")),
        })
    };
    if query.items.is_empty() {
        return refuse(
            "/items".to_owned(),
            "the query has no items: give at least one (an item {} matches every event)".to_owned(),
        );
    }
    if query.items.len() > MAX_QUERY_ITEMS {
        return refuse(
            "/items".to_owned(),
            format!(
                "the query has {} items, over the limit of {MAX_QUERY_ITEMS}: split it into \
                 several queries",
                query.items.len()
            ),
        );
    }
    for (i, item) in query.items.iter().enumerate() {
        if item.types.len() > MAX_QUERY_TYPES {
            return refuse(
                format!("/items/{i}/types"),
                format!(
                    "item {i} names {} event types, over the limit of {MAX_QUERY_TYPES}",
                    item.types.len()
                ),
            );
        }
        for (j, event_type) in item.types.iter().enumerate() {
            if event_type.is_empty() {
                return refuse(
                    format!("/items/{i}/types/{j}"),
                    format!("type {j} of item {i} is empty: name an event type"),
                );
            }
            if let Some(control) = event_type.chars().find(|c| c.is_control()) {
                return refuse(
                    format!("/items/{i}/types/{j}"),
                    format!(
                        "type {j} of item {i} holds the control character U+{:04X}: use \
                         printable text",
                        u32::from(control)
                    ),
                );
            }
        }
        if item.tags.len() > MAX_TAGS {
            return refuse(
                format!("/items/{i}/tags"),
                format!(
                    "item {i} names {} tags, but an event carries at most {MAX_TAGS}, so it \
                     could match nothing",
                    item.tags.len()
                ),
            );
        }
        for (j, tag) in item.tags.iter().enumerate() {
            if let Err(why) = check_tag(tag) {
                return refuse(
                    format!("/items/{i}/tags/{j}"),
                    format!("tag {j} of item {i} {why}"),
                );
            }
        }
    }
    Ok(())
}

/// Refuse a read `filter` whose query [`check_query`] refuses.
pub(crate) fn check_filter(filter: &LogFilter) -> Result<()> {
    match &filter.query {
        Some(query) => check_query(query, ""),
        None => Ok(()),
    }
}

/// Refuse `condition` unless its query holds the rules of a query and its partition
/// (if any) can name one.
fn check_condition(condition: &AppendCondition) -> Result<()> {
    check_query(
        &condition.fail_if_events_match,
        "/condition/failIfEventsMatch",
    )?;
    if let Some(partition) = &condition.partition
        && let Err(reason) = check_name(Name::Partition, partition)
    {
        return Err(Error::InvalidEventQuery {
            reason: format!("the condition's partition: {reason}"),
            field: Some("/condition/partition".to_owned()),
        });
    }
    Ok(())
}

/// Refuse `appends` with [`Error::InvalidAppend`] unless there is at least one, each
/// holds every rule of an append, and no event id appears twice among them all; with
/// [`Error::AppendTooLarge`] when they carry more than `limits` allow, all together;
/// with [`Error::InvalidEventQuery`] when their condition's query breaks the rules of
/// a query.
pub(super) fn check_appends(
    appends: &Appends,
    max_event_size: usize,
    limits: &AppendLimits,
) -> Result<()> {
    let requests = appends.appends.as_slice();
    if requests.is_empty() {
        return Err(Error::InvalidAppend {
            stream: String::new(),
            reason: "there are no appends: name at least one stream and its events".to_owned(),
            field: None,
        });
    }
    let events = requests.iter().map(|r| r.events.len()).sum();
    let bytes = requests
        .iter()
        .flat_map(|r| &r.events)
        .map(|e| e.size())
        .sum();
    if let Some((measure, limit, value)) = limits.exceeded(events, bytes) {
        return Err(Error::AppendTooLarge {
            measure,
            limit,
            value,
        });
    }
    for request in requests {
        check_append(request, max_event_size)?;
    }
    if let Some(condition) = &appends.condition {
        check_condition(condition)?;
    }
    if let [_, _, ..] = requests {
        let mut ids = HashSet::new();
        for request in requests {
            for (index, event) in request.events.iter().enumerate() {
                if !ids.insert(event.id) {
                    return Err(Error::InvalidAppend {
                        stream: request.stream.clone(),
                        reason: format!(
                            "event {index} repeats the id {} of an earlier event of these appends: give every event its own id",
                            event.id
                        ),
                        field: Some(format!("/events/{index}/id")),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Refuse `request` with [`Error::InvalidAppend`] unless every rule of an append holds.
fn check_append(request: &AppendRequest, max_event_size: usize) -> Result<()> {
    let refuse = |reason: String, field: String| {
        Err(Error::InvalidAppend {
            stream: request.stream.clone(),
            reason,
            field: Some(field),
        })
    };
    if let Err(reason) = check_name(Name::Partition, &request.partition) {
        return refuse(reason, "/partition".to_owned());
    }
    if let Err(reason) = check_name(Name::Stream, &request.stream) {
        return refuse(reason, "/stream".to_owned());
    }
    if request.events.is_empty() {
        return refuse(
            "there are no events: an append needs at least one".to_owned(),
            "/events".to_owned(),
        );
    }
    let mut ids = HashSet::with_capacity(request.events.len());
    for (index, event) in request.events.iter().enumerate() {
        let checked = check_event(
            &event.event_type,
            &event.data,
            &event.metadata,
            max_event_size,
        );
        if let Err(fault) = checked {
            let event_type = &event.event_type;
            let field = format!("/events/{index}{}", fault.pointer());
            return refuse(
                match fault {
                    Fault::EmptyType => {
                        format!("event {index} has an empty event type: give it a type name")
                    }
                    Fault::TooLarge(size) => format!(
                        "event {index} ('{event_type}') is {size} bytes (type + data + metadata), over the \
                         {max_event_size}-byte limit: store large payloads elsewhere and reference them"
                    ),
                    Fault::Data(why) => {
                        format!(
                            "event {index} ('{event_type}'): its data is not a JSON object ({why})"
                        )
                    }
                    Fault::Metadata(why) => format!(
                        "event {index} ('{event_type}'): its metadata is not a JSON object ({why}); use '{{}}' for none"
                    ),
                },
                field,
            );
        }
        if let Err((field, why)) = check_event_tags(&event.tags) {
            return refuse(
                format!("event {index} ('{}'): {why}", event.event_type),
                format!("/events/{index}{field}"),
            );
        }
        if !ids.insert(event.id) {
            return refuse(
                format!(
                    "event {index} repeats the id {} of an earlier event: give every event its own id",
                    event.id
                ),
                format!("/events/{index}/id"),
            );
        }
    }
    Ok(())
}

/// What is wrong with one event, whether appended or imported.
enum Fault {
    /// Its type is empty.
    EmptyType,
    /// Type + data + metadata take this many bytes, over the limit.
    TooLarge(usize),
    /// Its data is not a JSON object.
    Data(NotAnObject),
    /// Its metadata is not a JSON object.
    Metadata(NotAnObject),
}

impl Fault {
    /// The JSON pointer of the offending value within the event.
    fn pointer(&self) -> String {
        match self {
            Fault::EmptyType => "/type".to_owned(),
            Fault::TooLarge(_) => String::new(),
            Fault::Data(why) => format!("/data{}", why.pointer()),
            Fault::Metadata(why) => format!("/metadata{}", why.pointer()),
        }
    }
}

/// The rules every stored event holds, in the order they are reported.
fn check_event(
    event_type: &str,
    data: &str,
    metadata: &str,
    max_event_size: usize,
) -> Result<(), Fault> {
    if event_type.is_empty() {
        return Err(Fault::EmptyType);
    }
    let size = event_type.len() + data.len() + metadata.len();
    if size > max_event_size {
        return Err(Fault::TooLarge(size));
    }
    json::check_object(data).map_err(Fault::Data)?;
    json::check_object(metadata).map_err(Fault::Metadata)
}

/// Refuse `events` with [`Error::InvalidImport`] unless each is a valid event (the
/// rules of an append, positions from 1, a recorded-at in RFC 3339), their global
/// positions increase and no id appears twice among them. Whether they continue the store's log is the writer's to check.
pub(super) fn check_import(events: &[RecordedEvent], max_event_size: usize) -> Result<()> {
    let mut previous: Option<u64> = None;
    let mut ids = HashMap::with_capacity(events.len());
    for event in events {
        let position = event.global_position;
        let refuse = |reason: String| Err(Error::InvalidImport { position, reason });
        if position == 0 {
            return refuse("global positions start at 1".to_owned());
        }
        if let Some(previous) = previous.filter(|&previous| position <= previous) {
            return refuse(format!(
                "it comes after the event at global position {previous} in the same import: \
                 give the events in global order"
            ));
        }
        previous = Some(position);
        let names = check_name(Name::Partition, &event.partition)
            .and_then(|()| check_name(Name::Stream, &event.stream));
        if let Err(reason) = names {
            // "the stream id is empty: ..." of an append is "its stream id ..." here.
            return refuse(format!("its {}", reason.trim_start_matches("the ")));
        }
        if event.stream_position == 0 {
            return refuse(format!(
                "its position in stream '{}' is 0, but stream positions start at 1",
                event.stream
            ));
        }
        let checked = check_event(
            &event.event_type,
            &event.data,
            &event.metadata,
            max_event_size,
        );
        if let Err(fault) = checked {
            let event_type = &event.event_type;
            return refuse(match fault {
                Fault::EmptyType => "its event type is empty: give it a type name".to_owned(),
                Fault::TooLarge(size) => format!(
                    "it ('{event_type}') is {size} bytes (type + data + metadata), over this \
                     store's {max_event_size}-byte limit: open the store with a larger \
                     max_event_size to import it"
                ),
                Fault::Data(why) => format!("its data is not a JSON object ({why})"),
                Fault::Metadata(why) => format!("its metadata is not a JSON object ({why})"),
            });
        }
        if let Err((_, why)) = check_event_tags(&event.tags) {
            return refuse(format!("its tags: {why}"));
        }
        if humantime::parse_rfc3339(&event.recorded_at).is_err() {
            return refuse(format!(
                "its recorded-at '{}' is not an RFC 3339 time in UTC (like \
                 2024-01-01T00:00:00.000Z)",
                event.recorded_at
            ));
        }
        if let Some(first) = ids.insert(event.id, position) {
            return refuse(format!(
                "its id {} is the id of the event at global position {first} in the same \
                 import: every event of a log has its own id",
                event.id
            ));
        }
    }
    Ok(())
}

/// A JSON scalar a list filter compares a document's field with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number that is an `i64`.
    Integer(i64),
    /// Any other number.
    Real(f64),
    /// A string.
    Text(&'a str),
}

/// Refuse `query` with [`Error::InvalidQuery`] unless it asks for at least one document
/// and its filter (if any) names a top-level field with letters, digits and `_` and
/// compares it with a scalar; gives that field and scalar.
pub(super) fn check_list(query: &ListQuery) -> Result<Option<(&str, Scalar<'_>)>> {
    if query.limit == 0 {
        return Err(Error::InvalidQuery(
            "the page limit is 0: ask for at least 1 document".to_owned(),
        ));
    }
    let Some(filter) = &query.filter else {
        return Ok(None);
    };
    let field = filter.field.as_str();
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::InvalidQuery(format!(
            "cannot filter on field '{field}': name a top-level field with letters, digits and `_`"
        )));
    }
    let value = &filter.value;
    let scalar = match value {
        serde_json::Value::Null => Scalar::Null,
        serde_json::Value::Bool(b) => Scalar::Bool(*b),
        serde_json::Value::String(s) => Scalar::Text(s),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Integer(i),
            None => Scalar::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(Error::InvalidQuery(format!(
                "cannot filter on the value {value}: compare a field with a string, number, boolean or null"
            )));
        }
    };
    Ok(Some((field, scalar)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventData, ExpectedVersion};
    use uuid::Uuid;

    const LIMIT: usize = 1024;

    fn event(event_type: &str, data: &str) -> EventData {
        EventData::new(event_type, data)
    }

    fn append(events: Vec<EventData>) -> AppendRequest {
        AppendRequest::new("cart-1", ExpectedVersion::Any, events)
    }

    /// The reason `request` is refused for; panics unless it is an invalid append of
    /// its own stream.
    fn refusal(request: &AppendRequest) -> String {
        match check_append(request, LIMIT) {
            Err(Error::InvalidAppend { stream, reason, .. }) => {
                assert_eq!(stream, request.stream);
                reason
            }
            other => panic!("expected an invalid append, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_append_passes() {
        let request = append(vec![
            event("CartOpened", r#"{"cartId":"cart-1"}"#),
            event("ItemAdded", " \n{}").with_metadata(r#"{"by":"test"}"#),
        ]);
        assert!(check_append(&request, LIMIT).is_ok());
    }

    #[test]
    fn an_empty_partition_is_refused() {
        let request = append(vec![event("E", "{}")]).in_partition("");
        assert_eq!(
            refusal(&request),
            "the partition is empty: name one (e.g. 'default')"
        );
    }

    #[test]
    fn an_empty_stream_id_is_refused() {
        let request = AppendRequest::new("", ExpectedVersion::Any, vec![event("E", "{}")]);
        assert_eq!(
            refusal(&request),
            "the stream id is empty: name the stream (e.g. 'cart-42')"
        );
    }

    #[test]
    fn an_append_without_events_is_refused() {
        assert_eq!(
            refusal(&append(Vec::new())),
            "there are no events: an append needs at least one"
        );
    }

    #[test]
    fn an_empty_event_type_is_refused_with_its_index() {
        let request = append(vec![event("E", "{}"), event("", "{}")]);
        assert_eq!(
            refusal(&request),
            "event 1 has an empty event type: give it a type name"
        );
    }

    #[test]
    fn an_event_over_the_size_limit_is_refused_and_one_at_the_limit_passes() {
        // type (1) + data + metadata (2) = LIMIT exactly.
        let at_limit = format!(r#"{{"x":"{}"}}"#, "a".repeat(LIMIT - 1 - 2 - 8));
        let at = event("E", &at_limit);
        assert_eq!(
            at.event_type.len() + at.data.len() + at.metadata.len(),
            LIMIT
        );
        assert!(check_append(&append(vec![at]), LIMIT).is_ok());

        let over_limit = format!(r#"{{"x":"{}"}}"#, "a".repeat(LIMIT - 1 - 2 - 8 + 1));
        let request = append(vec![event("E", "{}"), event("E", &over_limit)]);
        assert_eq!(
            refusal(&request),
            format!(
                "event 1 ('E') is {} bytes (type + data + metadata), over the {LIMIT}-byte \
                 limit: store large payloads elsewhere and reference them",
                LIMIT + 1
            )
        );
    }

    #[test]
    fn data_that_is_not_one_json_object_is_refused() {
        let not_an_object = append(vec![event("E", "[1, 2]")]);
        assert_eq!(
            refusal(&not_an_object),
            "event 0 ('E'): its data is not a JSON object (it is JSON of another kind)"
        );
        for broken in ["{", r#"{"a":}"#, "{} {}", "{}x"] {
            let reason = refusal(&append(vec![event("E", broken)]));
            assert!(
                reason.starts_with("event 0 ('E'): its data is not a JSON object (")
                    && reason.contains("it is not JSON: "),
                "{broken:?}: {reason}"
            );
        }
    }

    #[test]
    fn metadata_that_is_not_one_json_object_is_refused() {
        let request = append(vec![event("E", "{}").with_metadata("null")]);
        assert_eq!(
            refusal(&request),
            "event 0 ('E'): its metadata is not a JSON object (it is JSON of another kind); \
             use '{}' for none"
        );
        let request = append(vec![event("E", "{}").with_metadata("{,}")]);
        let reason = refusal(&request);
        assert!(
            reason.starts_with("event 0 ('E'): its metadata is not a JSON object (")
                && reason.ends_with("); use '{}' for none"),
            "{reason}"
        );
    }

    #[test]
    fn a_repeated_event_id_is_refused_with_the_index_of_the_repeat() {
        let id = Uuid::now_v7();
        let request = append(vec![
            event("E", "{}").with_id(id),
            event("E", "{}"),
            event("E", "{}").with_id(id),
        ]);
        assert_eq!(
            refusal(&request),
            format!("event 2 repeats the id {id} of an earlier event: give every event its own id")
        );
    }

    #[test]
    fn the_first_broken_rule_is_the_one_reported() {
        // Event 0 is fine; event 1 breaks the type rule and the data rule: the type is
        // checked first. Nothing about event 2 is reported.
        let request = append(vec![
            event("E", "{}"),
            event("", "not json"),
            event("", "{}"),
        ]);
        assert_eq!(
            refusal(&request),
            "event 1 has an empty event type: give it a type name"
        );
        // The request-level rules come before any event's.
        let request = AppendRequest::new("", ExpectedVersion::Any, vec![event("", "")]);
        assert_eq!(
            refusal(&request),
            "the stream id is empty: name the stream (e.g. 'cart-42')"
        );
    }

    #[test]
    fn a_tag_that_is_empty_too_long_unprintable_repeated_or_one_too_many_is_refused() {
        let with = |tags: Vec<String>| {
            let error = check_appends(
                &append(vec![event("E", "{}"), event("T", "{}").with_tags(tags)]).into(),
                LIMIT,
                &AppendLimits::default(),
            );
            match error {
                Err(Error::InvalidAppend { reason, field, .. }) => (reason, field.unwrap()),
                other => panic!("expected an invalid append, got {other:?}"),
            }
        };
        let tags = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            with(tags(&["ok", ""])),
            (
                "event 1 ('T'): tag 1 is empty: give it a name (e.g. 'course:c1')".to_owned(),
                "/events/1/tags/1".to_owned()
            )
        );
        assert_eq!(
            with(vec!["x".repeat(MAX_TAG_BYTES + 1)]).0,
            format!(
                "event 1 ('T'): tag 0 is {} bytes, over the {MAX_TAG_BYTES}-byte limit: use a \
                 shorter tag",
                MAX_TAG_BYTES + 1
            )
        );
        assert_eq!(
            with(tags(&["a\u{1f}b"])).0,
            "event 1 ('T'): tag 0 holds the control character U+001F at byte 1: use printable text"
        );
        assert_eq!(
            with(tags(&["a", "b", "a"])),
            (
                "event 1 ('T'): tag 2 ('a') is given twice: give each tag once".to_owned(),
                "/events/1/tags/2".to_owned()
            )
        );
        let many: Vec<String> = (0..=MAX_TAGS).map(|n| format!("t:{n}")).collect();
        assert_eq!(
            with(many),
            (
                format!(
                    "event 1 ('T'): it carries {} tags, over the limit of {MAX_TAGS} per event: \
                     tag it only with what queries look for",
                    MAX_TAGS + 1
                ),
                "/events/1/tags".to_owned()
            )
        );
        let most: Vec<String> = (0..MAX_TAGS).map(|n| format!("t:{n}")).collect();
        let request = append(vec![event("T", "{}").with_tags(most)]);
        assert!(check_append(&request, LIMIT).is_ok());
    }

    #[test]
    fn a_query_is_refused_with_the_pointer_of_what_is_wrong() {
        use crate::store::{AppendCondition, Query, QueryItem};
        let refusal = |query: Query, at: &str| match check_query(&query, at) {
            Err(Error::InvalidEventQuery { reason, field }) => (reason, field.unwrap()),
            other => panic!("expected an invalid query, got {other:?}"),
        };
        assert_eq!(
            refusal(Query { items: Vec::new() }, ""),
            (
                "the query has no items: give at least one (an item {} matches every event)"
                    .to_owned(),
                "/items".to_owned()
            )
        );
        let bad_tag = Query::all().or(QueryItem::types(["A"]).with_tags(["ok", ""]));
        assert_eq!(
            refusal(bad_tag.clone(), "/condition/failIfEventsMatch"),
            (
                "tag 1 of item 1 is empty: give it a name (e.g. 'course:c1')".to_owned(),
                "/condition/failIfEventsMatch/items/1/tags/1".to_owned()
            )
        );
        assert_eq!(
            refusal(Query::item(QueryItem::types(["A", ""])), "").1,
            "/items/0/types/1"
        );
        let items = vec![QueryItem::default(); MAX_QUERY_ITEMS + 1];
        assert_eq!(refusal(Query { items }, "").1, "/items");
        assert!(check_query(&Query::all(), "").is_ok());
        // An append's condition is checked with the append, its pointer within it.
        let appends = Appends::from(append(vec![event("E", "{}")]))
            .with_condition(AppendCondition::fail_if_events_match(bad_tag));
        match check_appends(&appends, LIMIT, &AppendLimits::default()) {
            Err(Error::InvalidEventQuery { field, .. }) => assert_eq!(
                field.as_deref(),
                Some("/condition/failIfEventsMatch/items/1/tags/1")
            ),
            other => panic!("expected an invalid query, got {other:?}"),
        }
    }

    /// An event as an import takes it: at `position`, the first of its stream.
    fn imported(position: u64) -> RecordedEvent {
        RecordedEvent {
            global_position: position,
            partition: "default".to_owned(),
            stream: format!("s-{position}"),
            stream_position: 1,
            id: Uuid::now_v7(),
            event_type: "E".to_owned(),
            data: "{}".to_owned(),
            metadata: "{}".to_owned(),
            recorded_at: "2024-01-01T00:00:00.000Z".to_owned(),
            tags: Vec::new(),
        }
    }

    /// The position and reason `events` are refused for; panics unless refused.
    fn import_refusal(events: &[RecordedEvent]) -> (u64, String) {
        match check_import(events, LIMIT) {
            Err(Error::InvalidImport { position, reason }) => (position, reason),
            other => panic!("expected an invalid import, got {other:?}"),
        }
    }

    #[test]
    fn well_formed_events_in_global_order_pass_an_import() {
        let events = [imported(1), imported(2), imported(7)];
        assert!(check_import(&events, LIMIT).is_ok());
        assert!(check_import(&[], LIMIT).is_ok());
    }

    #[test]
    fn an_import_out_of_global_order_is_refused_at_the_first_event_behind() {
        let events = [imported(1), imported(3), imported(3)];
        assert_eq!(
            import_refusal(&events),
            (
                3,
                "it comes after the event at global position 3 in the same import: give the \
                 events in global order"
                    .to_owned()
            )
        );
        assert_eq!(
            import_refusal(&[imported(0)]),
            (0, "global positions start at 1".to_owned())
        );
    }

    #[test]
    fn an_id_given_twice_in_an_import_is_refused_at_the_second() {
        let first = imported(3);
        let mut twin = imported(5);
        twin.id = first.id;
        assert_eq!(
            import_refusal(&[first.clone(), imported(4), twin]),
            (
                5,
                format!(
                    "its id {} is the id of the event at global position 3 in the same \
                     import: every event of a log has its own id",
                    first.id
                )
            )
        );
    }

    #[test]
    fn an_imported_event_is_held_to_the_rules_of_an_append() {
        let with = |change: fn(&mut RecordedEvent)| {
            let mut event = imported(4);
            change(&mut event);
            import_refusal(&[imported(3), event]).1
        };
        assert_eq!(
            with(|e| e.partition.clear()),
            "its partition is empty: name one (e.g. 'default')"
        );
        assert_eq!(
            with(|e| e.stream.clear()),
            "its stream id is empty: name the stream (e.g. 'cart-42')"
        );
        assert_eq!(
            with(|e| e.stream_position = 0),
            "its position in stream 's-4' is 0, but stream positions start at 1"
        );
        assert_eq!(
            with(|e| e.event_type.clear()),
            "its event type is empty: give it a type name"
        );
        assert_eq!(
            with(|e| e.data = "[1]".to_owned()),
            "its data is not a JSON object (it is JSON of another kind)"
        );
        assert_eq!(
            with(|e| e.metadata = "null".to_owned()),
            "its metadata is not a JSON object (it is JSON of another kind)"
        );
        assert_eq!(
            with(|e| e.data = format!(r#"{{"x":"{}"}}"#, "a".repeat(LIMIT))),
            format!(
                "it ('E') is {} bytes (type + data + metadata), over this store's \
                 {LIMIT}-byte limit: open the store with a larger max_event_size to import it",
                1 + LIMIT + 8 + 2
            )
        );
        assert_eq!(
            with(|e| e.recorded_at = "yesterday".to_owned()),
            "its recorded-at 'yesterday' is not an RFC 3339 time in UTC (like \
             2024-01-01T00:00:00.000Z)"
        );
    }
}
