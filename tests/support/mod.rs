//! Helpers shared by the end-to-end tests.

pub mod guests;

use refold::runtime::Event;

/// An event as the store would hand it to a guest.
pub fn event(stream: &str, position: u64, event_type: &str, data: &str) -> Event {
    Event {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        metadata: "{}".to_owned(),
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: position,
        event_id: format!("00000000-0000-0000-0000-{position:012}"),
        recorded_at: "2024-01-01T00:00:00.000Z".to_owned(),
        partition: "default".to_owned(),
    }
}
