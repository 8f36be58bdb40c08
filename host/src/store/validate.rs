//! Checks an append before it reaches the writer.
//!
//! The writer thread is the store's one serial resource, so everything that can be
//! decided from the request alone (names present, JSON shape, sizes, ids distinct) is
//! decided here, on the caller's thread. A refused append names what was wrong and the
//! index of the offending event, and nothing is written.

use super::AppendRequest;
use crate::{Error, Result};
use std::collections::HashSet;

/// Refuse `request` with [`Error::InvalidAppend`] unless every rule of an append holds.
pub(super) fn check_append(request: &AppendRequest, max_event_size: usize) -> Result<()> {
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
        if let Err(why) = check_object(&event.data) {
            return refuse(format!(
                "event {index} ('{}'): its data is not a JSON object ({why})",
                event.event_type
            ));
        }
        if let Err(why) = check_object(&event.metadata) {
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

/// Whether `text` is one JSON object and nothing else.
fn check_object(text: &str) -> Result<(), String> {
    if !text.trim_start().starts_with('{') {
        return Err("it does not start with '{'".to_owned());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| e.to_string())
}
