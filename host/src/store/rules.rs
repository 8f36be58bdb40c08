//! The decisions every backend makes the same way once it has read what is stored:
//! whether an append is an exact resend, where an imported event goes, who gets a
//! lease and with which token, whether a deploy may change a module's world.
//!
//! A backend reads the rows (each in its own SQL) and hands them here, so SQLite and
//! PostgreSQL cannot drift apart on what counts as a retry, a skipped import or a
//! lease passing to a new owner.

use super::{AppendOutcome, AppendRequest, Lease, RecordedEvent};
use crate::{Error, Result};

/// Where an event id of an append is stored, as far as a retry check needs to know.
#[derive(Debug, Clone)]
pub(super) struct StoredId {
    /// Its global position.
    pub(super) position: u64,
    /// The partition of its stream.
    pub(super) partition: String,
    /// Its stream.
    pub(super) stream: String,
    /// Its stream position.
    pub(super) stream_position: u64,
    /// Its index in the append that wrote it.
    pub(super) append_index: u64,
    /// How many events that append wrote.
    pub(super) append_size: u64,
}

/// Whether `request` is an exact resend of an append already stored, given where each
/// of its event ids is stored (`stored[i]` for `request.events[i]`): `Ok(None)` when
/// none of its ids is stored, the stored id of its first event when it is an exact
/// resend (same partition and stream, the same ids in the same order and count), else
/// [`Error::DuplicateEventId`] for the first id stored.
pub(super) fn resend_of<'s>(
    request: &AppendRequest,
    stored: &'s [Option<StoredId>],
) -> Result<Option<&'s StoredId>> {
    let Some((index, first)) = stored
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.as_ref().map(|s| (i, s)))
    else {
        return Ok(None);
    };
    let size = request.events.len() as u64;
    let exact = (0u64..).zip(stored).all(|(k, s)| {
        s.as_ref().is_some_and(|s| {
            s.partition == request.partition
                && s.stream == request.stream
                && s.position == first.position + k
                && s.stream_position == first.stream_position + k
                && s.append_index == k
                && s.append_size == size
        })
    });
    if !exact {
        return Err(Error::DuplicateEventId {
            event_id: request.events[index].id,
            position: first.position,
            stored_stream: first.stream.clone(),
        });
    }
    Ok(Some(first))
}

/// The outcome of the original append that `first` begins, given its events as read
/// back from the store, in order.
pub(super) fn original_outcome(first: &StoredId, events: Vec<RecordedEvent>) -> AppendOutcome {
    let size = first.append_size;
    AppendOutcome {
        stream_version: first.stream_position + size - 1,
        first_position: first.position,
        last_position: first.position + size - 1,
        recorded_at: events
            .first()
            .map(|e| e.recorded_at.clone())
            .unwrap_or_default(),
        events,
    }
}

/// The answer to appends that did not go through as written because of `refusal` at
/// `requests[index]` (any index for a failed condition), given each request's judgement by [`resend_of`] (its original
/// outcome when it is an exact resend): the original outcomes when every request is an
/// exact resend, else the conflict or the failure.
pub(super) fn refused_appends(
    mut requests: Vec<AppendRequest>,
    index: usize,
    refusal: AppendRefusal,
    originals: Vec<Option<AppendOutcome>>,
) -> Result<Vec<AppendOutcome>> {
    if originals.iter().all(Option::is_some) {
        return Ok(originals.into_iter().flatten().collect());
    }
    match refusal {
        AppendRefusal::Conflict(actual) => {
            let request = requests.swap_remove(index);
            Err(Error::Conflict {
                partition: request.partition,
                stream: request.stream,
                expected: request.expected,
                actual,
            })
        }
        AppendRefusal::Condition {
            position,
            after,
            head,
        } => Err(Error::AppendConditionFailed {
            position,
            after,
            head,
        }),
        AppendRefusal::Failed(error) => Err(error),
    }
}

/// Why an append attempt did not go through as written.
pub(super) enum AppendRefusal {
    /// The stream's version did not match; it is at this version.
    Conflict(u64),
    /// The appends' condition failed: the event at `position` matches its query and
    /// comes after its `after`; the log was at `head`.
    Condition {
        /// The first matching event.
        position: u64,
        /// The condition's position.
        after: Option<u64>,
        /// The log head at the check.
        head: u64,
    },
    /// An insert hit a unique constraint (maybe an event id is stored already), as the
    /// error to report when the append is not an exact resend after all.
    Failed(Error),
}

/// Whether the stream at `version` accepts an append that expects `expected`.
pub(super) fn accepts(expected: super::ExpectedVersion, version: u64) -> bool {
    use super::ExpectedVersion;
    match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => version == 0,
        ExpectedVersion::Exists => version > 0,
        ExpectedVersion::Exact(expected) => version == expected,
    }
}

/// What an import does with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// It is stored already at its position: skip it.
    Skip,
    /// Write it: it continues the log.
    Write,
}

/// Where `event` goes when the log's head is `head` and `stored` says whether the event
/// stored at its global position (if any) is the same event. The stream's order is
/// checked separately ([`continues_stream`]).
pub(super) fn place_import(event: &RecordedEvent, head: u64, stored: bool) -> Result<Placement> {
    let position = event.global_position;
    if position <= head && stored {
        return Ok(Placement::Skip);
    }
    if position != head + 1 {
        return Err(Error::ImportOutOfOrder { position, head });
    }
    Ok(Placement::Write)
}

/// Refuse an imported `event` unless it is the next event of its stream, which is at
/// `version`.
pub(super) fn continues_stream(event: &RecordedEvent, version: u64) -> Result<()> {
    if event.stream_position != version + 1 {
        return Err(Error::ImportStreamOutOfOrder {
            position: event.global_position,
            partition: event.partition.clone(),
            stream: event.stream.clone(),
            stream_position: event.stream_position,
            version,
        });
    }
    Ok(())
}

/// The token `owner` gets the lease with at `now` (ms since the Unix epoch), given the
/// lease as stored: the same token when `owner` holds it unexpired, the next one when
/// it is expired or free (1 for a lease never taken), `None` while another owner holds
/// it unexpired.
pub(super) fn lease_token(current: Option<&Lease>, owner: &str, now: u64) -> Option<u64> {
    match current {
        Some(held) if held.owner != owner && held.expires_at_ms > now => None,
        Some(held) if held.owner == owner && held.expires_at_ms > now => Some(held.token),
        Some(held) => Some(held.token + 1),
        None => Some(1),
    }
}

/// When a lease taken at `now` for `ttl` expires, in ms since the Unix epoch.
pub(super) fn lease_expiry(now: u64, ttl: std::time::Duration) -> u64 {
    now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

/// Now, in milliseconds since the Unix epoch, by this host's clock.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The outcome of a committed append: its events as recorded, moved out of the request.
pub(super) fn recorded(
    request: AppendRequest,
    stream_version: u64,
    first_position: u64,
    recorded_at: &str,
) -> AppendOutcome {
    let AppendRequest {
        partition,
        stream,
        events,
        ..
    } = request;
    let size = events.len() as u64;
    let first_stream_position = stream_version + 1 - size;
    let events = (0u64..)
        .zip(events)
        .map(|(offset, event)| RecordedEvent {
            global_position: first_position + offset,
            partition: partition.clone(),
            stream: stream.clone(),
            stream_position: first_stream_position + offset,
            id: event.id,
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            recorded_at: recorded_at.to_owned(),
            tags: event.tags,
        })
        .collect();
    AppendOutcome {
        stream_version,
        first_position,
        last_position: first_position + size - 1,
        recorded_at: recorded_at.to_owned(),
        events,
    }
}

/// Whether a deploy of a `world` module may be recorded as the next version of `name`,
/// whose newest recorded version is `newest` (its version and world; `None` when the
/// name is new): a deploy that would turn a decider into a projection, or the reverse,
/// is refused unless it says it replaces the world.
pub(super) fn check_world(
    name: &str,
    newest: Option<(u64, &str)>,
    world: &str,
    replace_world: bool,
) -> Result<()> {
    match newest {
        Some((version, current)) if current != world && !replace_world => Err(Error::WorldChange {
            module: name.to_owned(),
            version,
            current: current.to_owned(),
            deployed: world.to_owned(),
        }),
        _ => Ok(()),
    }
}
