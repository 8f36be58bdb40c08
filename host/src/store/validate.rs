//! Checks an append before it reaches the writer.
//!
//! The writer thread is the store's one serial resource, so everything that can be
//! decided from the request alone (names present, JSON shape, sizes, ids distinct) is
//! decided here, on the caller's thread. A refused append names what was wrong and the
//! index of the offending event, and nothing is written.

use super::AppendRequest;
use crate::{Error, Result, json};
use std::collections::HashSet;

/// Refuse `requests` with [`Error::InvalidAppend`] unless there is at least one, each
/// holds every rule of an append, and no event id appears twice among them all.
pub(super) fn check_appends(requests: &[AppendRequest], max_event_size: usize) -> Result<()> {
    if requests.is_empty() {
        return Err(Error::InvalidAppend {
            stream: String::new(),
            reason: "there are no appends: name at least one stream and its events".to_owned(),
        });
    }
    for request in requests {
        check_append(request, max_event_size)?;
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
                    });
                }
            }
        }
    }
    Ok(())
}

/// Refuse `request` with [`Error::InvalidAppend`] unless every rule of an append holds.
fn check_append(request: &AppendRequest, max_event_size: usize) -> Result<()> {
    let refuse = |reason: String| {
        Err(Error::InvalidAppend {
            stream: request.stream.clone(),
            reason,
        })
    };
    if request.partition.is_empty() {
        return refuse("the partition is empty: name one (e.g. 'default')".to_owned());
    }
    if request.stream.is_empty() {
        return refuse("the stream id is empty: name the stream (e.g. 'cart-42')".to_owned());
    }
    if request.events.is_empty() {
        return refuse("there are no events: an append needs at least one".to_owned());
    }
    let mut ids = HashSet::with_capacity(request.events.len());
    for (index, event) in request.events.iter().enumerate() {
        if event.event_type.is_empty() {
            return refuse(format!(
                "event {index} has an empty event type: give it a type name"
            ));
        }
        let size = event.event_type.len() + event.data.len() + event.metadata.len();
        if size > max_event_size {
            return refuse(format!(
                "event {index} ('{}') is {size} bytes (type + data + metadata), over the \
                 {max_event_size}-byte limit: store large payloads elsewhere and reference them",
                event.event_type
            ));
        }
        if let Err(why) = json::check_object(&event.data) {
            return refuse(format!(
                "event {index} ('{}'): its data is not a JSON object ({why})",
                event.event_type
            ));
        }
        if let Err(why) = json::check_object(&event.metadata) {
            return refuse(format!(
                "event {index} ('{}'): its metadata is not a JSON object ({why}); use '{{}}' for none",
                event.event_type
            ));
        }
        if !ids.insert(event.id) {
            return refuse(format!(
                "event {index} repeats the id {} of an earlier event: give every event its own id",
                event.id
            ));
        }
    }
    Ok(())
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
            Err(Error::InvalidAppend { stream, reason }) => {
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
}
