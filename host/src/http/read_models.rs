//! Routes of the read side: projection and workflow status, rebuilds, and read-model
//! queries that can wait for a projection to reach a position first (read your
//! writes).
//!
//! A wait is bounded: `timeout_ms` above [`MAX_WAIT`] is clamped to it, and the answer
//! says so in the `Refold-Timeout-Clamped` header (the milliseconds waited at most);
//! a position beyond the log's head is refused at once (400 `beyond-head`). Waiting
//! awaits the projection's watch, so thousands of waiting queries hold no thread.

use super::AppState;
use super::error::ApiError;
use super::ops::lag_seconds;
use crate::projections::ListQuery;
use crate::store::DEFAULT_PARTITION;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long a query waits for its projection by default, when asked to wait.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// The longest a query waits for its projection, whatever its `timeout_ms`.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// The header of an answer whose `timeout_ms` was clamped to [`MAX_WAIT`].
const CLAMPED_HEADER: &str = "refold-timeout-clamped";

/// `GET /projections`: the state of every projection, with who runs each generation
/// (one read of the leases), how old the oldest event it has not applied is
/// (`active.lagSeconds`), and which lease owner this node is.
pub(crate) async fn statuses(State(state): State<AppState>) -> Result<Response, ApiError> {
    let projections = state.engine.projections();
    let mut statuses = projections.status();
    projections.read_runners(&mut statuses).await?;
    let mut listed = Vec::with_capacity(statuses.len());
    for status in &statuses {
        let mut value = serde_json::to_value(status).unwrap_or_default();
        let (checkpoint, head) = (status.active.checkpoint, status.active.head);
        value["active"]["lagSeconds"] = json!(lag_seconds(&state.engine, checkpoint, head).await);
        listed.push(value);
    }
    Ok(Json(json!({ "node": projections.owner(), "projections": listed })).into_response())
}

/// `GET /projections/{name}`: the state of one projection.
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let projections = state.engine.projections();
    let mut status = [projections.status_of(&name)?];
    projections.read_runners(&mut status).await?;
    let [status] = status;
    Ok(Json(status).into_response())
}

/// `GET /workflows`: the state of every workflow (lag, instances open, timers pending,
/// last error), with who runs each, and which lease owner this node is.
pub(crate) async fn workflows(State(state): State<AppState>) -> Result<Response, ApiError> {
    let statuses = state.engine.workflow_status().await?;
    let node = state.engine.projections().owner();
    Ok(Json(json!({ "node": node, "workflows": statuses })).into_response())
}

/// `GET /workflows/{name}`: the state of one workflow.
pub(crate) async fn workflow(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let engine = &state.engine;
    let status = engine
        .workflows()
        .status_of(engine.projections(), &name)
        .await?;
    Ok(Json(status).into_response())
}

/// `POST /projections/{name}/rebuild`: build the read model again beside the current one.
pub(crate) async fn rebuild(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let projections = state.engine.projections();
    projections.rebuild(&name).await?;
    let mut status = [projections.status_of(&name)?];
    projections.read_runners(&mut status).await?;
    let [status] = status;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

/// Query of `GET /projections/{name}/skipped`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkippedQuery {
    /// Only the events after this global position.
    after: Option<u64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<usize>,
}

/// `GET /projections/{name}/skipped`: the events the projection skipped under the
/// `skip` policy, in log order, with the error of each; `next` is the `after` of the
/// next page when this one is full.
pub(crate) async fn skipped(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<SkippedQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = state
        .engine
        .projections()
        .skipped(&name, query.after.unwrap_or(0), limit)
        .await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.position))
        .flatten();
    Ok(Json(json!({ "skipped": events, "next": next })).into_response())
}

/// Query of the read-model routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadQuery {
    partition: Option<String>,
    /// Wait until the projection has applied the log up to this global position (the
    /// `position` a command returned) before reading.
    wait_for: Option<u64>,
    /// How long to wait, in milliseconds (default 5000, at most 30000).
    timeout_ms: Option<u64>,
    /// Page size of a list (default 100, at most 1000).
    limit: Option<usize>,
    /// List the documents after this id.
    after: Option<String>,
    /// List only documents whose top-level `field`...
    field: Option<String>,
    /// ...equals this value (JSON, or else taken as a string).
    value: Option<String>,
}

impl ReadQuery {
    fn partition(&self) -> String {
        self.partition
            .clone()
            .unwrap_or_else(|| DEFAULT_PARTITION.to_owned())
    }

    fn wait(&self) -> Option<(u64, Duration)> {
        let timeout = self
            .timeout_ms
            .map_or(DEFAULT_WAIT, Duration::from_millis)
            .min(MAX_WAIT);
        self.wait_for.map(|position| (position, timeout))
    }

    /// Whether a wait was asked for longer than [`MAX_WAIT`].
    fn clamped(&self) -> bool {
        self.wait_for.is_some() && self.timeout_ms.is_some_and(|ms| ms > millis(MAX_WAIT))
    }

    /// Wait for the projection `name` as asked, if asked.
    async fn wait_for(&self, state: &AppState, name: &str) -> Result<(), ApiError> {
        if let Some((position, timeout)) = self.wait() {
            state
                .engine
                .projections()
                .wait_for(name, position, timeout)
                .await?;
        }
        Ok(())
    }

    /// `answer`, with the header saying the wait was clamped when it was.
    fn answer(&self, answer: Result<Response, ApiError>) -> Response {
        let mut response = answer.unwrap_or_else(IntoResponse::into_response);
        if self.clamped() {
            response
                .headers_mut()
                .insert(CLAMPED_HEADER, HeaderValue::from(millis(MAX_WAIT)));
        }
        response
    }

    fn list_query(&self, page_bytes: usize) -> Result<ListQuery, ApiError> {
        let mut query =
            ListQuery::first(self.limit.unwrap_or(100).min(1000)).at_most_bytes(page_bytes);
        if let Some(after) = &self.after {
            query = query.after(after.clone());
        }
        match (&self.field, &self.value) {
            (Some(field), Some(value)) => {
                let value = serde_json::from_str(value)
                    .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
                query = query.with_filter(field.clone(), value);
            }
            (None, None) => {}
            _ => {
                return Err(ApiError::bad_request(
                    "a filter needs both `field` and `value`",
                ));
            }
        }
        Ok(query)
    }
}

/// `GET /projections/{name}/{collection}`: a page of documents, in id order.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path((name, collection)): Path<(String, String)>,
    Query(query): Query<ReadQuery>,
) -> Response {
    let answer = async {
        let list = query.list_query(state.page_bytes)?;
        query.wait_for(&state, &name).await?;
        let page = state
            .engine
            .projections()
            .list(&name, &query.partition(), &collection, &list)
            .await?;
        Ok(Json(crate::views::PageView::of(&page)).into_response())
    };
    query.answer(answer.await)
}

/// `GET /projections/{name}/{collection}/{id}`: one document, or 404.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((name, collection, id)): Path<(String, String, String)>,
    Query(query): Query<ReadQuery>,
) -> Response {
    let answer = async {
        query.wait_for(&state, &name).await?;
        let document = state
            .engine
            .projections()
            .get(&name, &query.partition(), &collection, &id)
            .await?;
        match document {
            Some(text) => Ok((
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                text,
            )
                .into_response()),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no-document",
                format!("collection '{collection}' has no document '{id}'"),
            )),
        }
    };
    query.answer(answer.await)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
