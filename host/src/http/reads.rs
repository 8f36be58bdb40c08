//! Routes that read: streams, the log, the live feed (server-sent events), modules.

use super::error::ApiError;
use super::{AppState, PartitionQuery};
use crate::store::{self, DEFAULT_PARTITION, Direction, LogFilter, QueryItem, RecordedEvent};
use crate::views::EventView;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// Most events one read returns.
const MAX_READ: usize = 1000;

/// A stream read: the stream's version and the events read, data exactly as stored.
#[derive(serde::Serialize)]
struct StreamPage<'a> {
    version: Option<u64>,
    events: Vec<EventView<'a>>,
}

/// A log read: the log's head and the events read.
#[derive(serde::Serialize)]
struct LogPage<'a> {
    head: u64,
    events: Vec<EventView<'a>>,
}

/// Query of `GET /streams/{stream}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    partition: Option<String>,
    /// First stream position to return (default: 1 forward, the end backward).
    from: Option<u64>,
    /// `forward` (default) or `backward`.
    direction: Option<String>,
    limit: Option<usize>,
    /// `true`: the events as stored, not upcast.
    #[serde(default)]
    raw: bool,
}

/// `GET /streams/{stream}`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(stream): Path<String>,
    Query(query): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let direction = match query.direction.as_deref() {
        None | Some("forward") => Direction::Forward,
        Some("backward") => Direction::Backward,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "direction '{other}' is not forward or backward"
            )));
        }
    };
    let from = query.from.unwrap_or(match direction {
        Direction::Forward => 1,
        Direction::Backward => u64::MAX,
    });
    let limit = query.limit.unwrap_or(100).min(MAX_READ);
    let partition = query
        .partition
        .unwrap_or_else(|| DEFAULT_PARTITION.to_owned());
    let events = state
        .engine
        .read_stream(&partition, &stream, from, direction, limit, query.raw)
        .await?;
    let store = state.engine.store();
    let version = store.stream_version(&partition, &stream).await?;
    let page = StreamPage {
        version,
        events: events.iter().map(EventView::of).collect(),
    };
    Ok(Json(page).into_response())
}

/// Query of `GET /log` and `GET /log/live`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Return events after this global position (default 0: from the start).
    after: Option<u64>,
    limit: Option<usize>,
    partition: Option<String>,
    /// Comma-separated event types.
    types: Option<String>,
    /// Comma-separated tags: only events carrying all of them (of one of `types`, if
    /// given).
    tags: Option<String>,
    category: Option<String>,
    /// A query as JSON, `{"items": [{"types"?: [..], "tags"?: [..]}]}`.
    query: Option<String>,
    /// `true`: the events as stored, not upcast.
    #[serde(default)]
    raw: bool,
}

impl LogQuery {
    /// The filter the parameters ask for: `query`, or `types` and `tags` as a query of
    /// one item (`types` alone is the plain type filter), with `partition` and
    /// `category`.
    fn filter(&self) -> Result<LogFilter, ApiError> {
        let types = comma_separated(self.types.as_deref());
        let tags = comma_separated(self.tags.as_deref());
        let (event_types, query) = match &self.query {
            Some(_) if !types.is_empty() || !tags.is_empty() => {
                return Err(ApiError::bad_request(
                    "give either the query parameter or types and tags, not both: a query \
                     names its types and tags in its items",
                ));
            }
            Some(json) => {
                let query: store::Query = serde_json::from_str(json).map_err(|e| {
                    ApiError::bad_request(format!(
                        "the query parameter is not a query like \
                         {{\"items\": [{{\"types\": [..], \"tags\": [..]}}]}} (URL-encoded): {e}"
                    ))
                })?;
                (Vec::new(), Some(query))
            }
            None if tags.is_empty() => (types, None),
            None => (
                Vec::new(),
                Some(store::Query::item(QueryItem { types, tags })),
            ),
        };
        Ok(LogFilter {
            partition: self.partition.clone(),
            event_types,
            category: self.category.clone(),
            query,
        })
    }
}

/// The non-empty entries of a comma-separated parameter.
fn comma_separated(list: Option<&str>) -> Vec<String> {
    list.map(|list| {
        list.split(',')
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// `GET /log`: the global log after a position, filtered.
pub(crate) async fn log(
    State(state): State<AppState>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let filter = query.filter()?;
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(100).min(MAX_READ);
    let events = state
        .engine
        .read_log(after, &filter, limit, query.raw)
        .await?;
    let head = state.engine.store().head();
    let page = LogPage {
        head,
        events: events.iter().map(EventView::of).collect(),
    };
    Ok(Json(page).into_response())
}

/// `GET /log/live`: every event after a position as a server-sent event whose id is
/// its global position, then new events as they are committed. A client that
/// reconnects with `Last-Event-ID` resumes right after the last event it received.
pub(crate) async fn live(
    State(state): State<AppState>,
    Query(query): Query<LogQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .map(|id| {
            id.to_str()
                .ok()
                .and_then(|id| id.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID is not a global position"))
        })
        .transpose()?;
    let after = resume.or(query.after).unwrap_or(0);
    let filter = query.filter()?;
    store::validate::check_filter(&filter)?;
    let feed = Feed {
        shutdown: state.shutdown.clone(),
        state,
        filter,
        raw: query.raw,
        after,
        pending: Vec::new().into_iter(),
        span: tracing::Span::current(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let span = feed.span.clone();
        let event = feed.next().instrument(span).await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The state of one live feed: what it has sent and what is read but not yet sent.
struct Feed {
    state: AppState,
    shutdown: watch::Receiver<bool>,
    filter: LogFilter,
    raw: bool,
    after: u64,
    pending: std::vec::IntoIter<RecordedEvent>,
    /// The span of the request that opened the feed: what the feed logs later, after
    /// the handler has returned, still carries the request's id.
    span: tracing::Span,
}

impl Feed {
    /// The next event to send, waiting for the log to grow when all are sent; `None`
    /// when the server shuts down or the store fails.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.next() {
                self.after = event.global_position;
                let data = serde_json::to_string(&EventView::of(&event)).ok()?;
                return Some(
                    Event::default()
                        .id(event.global_position.to_string())
                        .data(data),
                );
            }
            let mut head = self.state.engine.store().subscribe();
            // Every event up to `seen` is committed before the read below starts.
            let seen = *head.borrow_and_update();
            let read = self
                .state
                .engine
                .read_log(self.after, &self.filter, 500, self.raw)
                .await;
            match read.map_err(ApiError::from) {
                Ok(events) if !events.is_empty() => self.pending = events.into_iter(),
                Ok(_) => {
                    // No event after `after` passes the filter, up to `seen` at least.
                    self.after = self.after.max(seen);
                    tokio::select! {
                        changed = head.changed() => changed.ok()?,
                        _ = self.shutdown.wait_for(|stopping| *stopping) => return None,
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error.message(), "live feed stopped");
                    return None;
                }
            }
        }
    }
}

/// `GET /modules`: the current version of every deployed module.
pub(crate) async fn modules(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "modules": state.engine.modules() }))
}

/// `GET /modules/{name}/history`: every deploy of the module `name`, oldest first.
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let deployments = state.engine.history(&name).await?;
    if deployments.is_empty() {
        return Err(crate::Error::UnknownModule(name).into());
    }
    Ok(Json(json!({ "module": name, "deployments": deployments })))
}

impl PartitionQuery {
    /// The partition asked for, or the default one.
    pub(crate) fn partition(&self) -> String {
        self.partition
            .clone()
            .unwrap_or_else(|| DEFAULT_PARTITION.to_owned())
    }
}
