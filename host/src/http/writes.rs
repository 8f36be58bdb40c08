//! Routes that change things: commands, appends, deploys.

use super::error::ApiError;
use super::{AppState, PartitionQuery};
use crate::commands::{CommandRequest, RefoldKeys};
use crate::projections::FailurePolicy;
use crate::store::{AppendRequest, DEFAULT_PARTITION, EventData, ExpectedVersion};
use crate::views::{AppendBody, AppendView, AppendsBody, AppendsView, NewEventBody, OutcomeView};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

/// `POST /commands/{decider}/{stream}`: the body is the command envelope (JSON:
/// the command, with an optional `metadata`). `Idempotency-Key`, `X-Correlation-Id`
/// and `traceparent` give Refold's keys, over the envelope's. A replayed outcome
/// carries `Idempotent-Replayed: true`.
pub(crate) async fn command(
    State(state): State<AppState>,
    Path((decider, stream)): Path<(String, String)>,
    Query(query): Query<PartitionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let envelope = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the command is not UTF-8 text"))?;
    let partition = query.partition();
    let keys = RefoldKeys {
        command_id: header(&headers, "idempotency-key")?,
        correlation_id: header(&headers, "x-correlation-id")?,
        causation_id: None,
        traceparent: header(&headers, "traceparent")?,
    };
    let request = CommandRequest::new(stream.as_str(), envelope)
        .in_partition(partition.as_str())
        .with_keys(keys);
    let span = tracing::info_span!("command", %decider, %stream, %partition);
    let outcome = async {
        let outcome = state
            .engine
            .commands()
            .handle_request(&decider, request)
            .await;
        match &outcome {
            Ok(outcome) => tracing::debug!(
                events = outcome.events.len(),
                stream_version = outcome.stream_version,
                "command handled"
            ),
            Err(error) => tracing::debug!(%error, "command failed"),
        }
        outcome
    }
    .instrument(span)
    .await?;
    let mut response = Json(OutcomeView::of(&outcome)).into_response();
    if outcome.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The header `name` as text, if sent.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad_request(format!("the {name} header is not text")))
        })
        .transpose()
}

/// `POST /streams/{stream}`: append events under an expected version.
pub(crate) async fn append(
    State(state): State<AppState>,
    Path(stream): Path<String>,
    Query(query): Query<PartitionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: AppendBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the append body is not valid: {e}")))?;
    let header = header(&headers, "expected-version")?.map(serde_json::Value::String);
    let expected = parse_expected(header.or(body.expected_version))?;
    let events = body.events.into_iter().map(event_data).collect();
    let request = AppendRequest::new(stream, expected, events).in_partition(query.partition());
    let outcome = state.engine.store().append(request).await?;
    Ok(Json(AppendView::of(&outcome)).into_response())
}

/// `POST /streams`: append to several streams at once, each under its own expected
/// version; all or nothing.
pub(crate) async fn append_all(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: AppendsBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the append body is not valid: {e}")))?;
    let requests = body
        .appends
        .into_iter()
        .map(|append| {
            let expected = parse_expected(append.expected_version)?;
            let events = append.events.into_iter().map(event_data).collect();
            let partition = append
                .partition
                .unwrap_or_else(|| DEFAULT_PARTITION.to_owned());
            Ok(AppendRequest::new(append.stream, expected, events).in_partition(partition))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let streams: Vec<(String, String)> = requests
        .iter()
        .map(|r| (r.partition.clone(), r.stream.clone()))
        .collect();
    let outcomes = state.engine.store().append_all(requests).await?;
    Ok(Json(AppendsView::of(&streams, &outcomes)).into_response())
}

/// An event of an append body as the store takes it.
fn event_data(event: NewEventBody) -> EventData {
    let mut data = EventData::new(event.event_type, event.data.get());
    if let Some(id) = event.id {
        data = data.with_id(id);
    }
    match event.metadata {
        Some(metadata) => data.with_metadata(metadata.get()),
        None => data,
    }
}

/// `"any"`, `"no-stream"`, `"exists"`, or a version (number or numeric text); absent
/// means `any`.
fn parse_expected(value: Option<serde_json::Value>) -> Result<ExpectedVersion, ApiError> {
    let refuse = |v: &dyn std::fmt::Display| {
        ApiError::bad_request(format!(
            "expected version {v} is not \"any\", \"no-stream\", \"exists\" or a version number"
        ))
    };
    match value {
        None => Ok(ExpectedVersion::Any),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(ExpectedVersion::Exact)
            .ok_or_else(|| refuse(&n)),
        Some(serde_json::Value::String(s)) => s.parse().map_err(|_| refuse(&s)),
        Some(other) => Err(refuse(&other)),
    }
}

/// Query of `PUT /modules/{name}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployQuery {
    /// For a projection: `stop` (default) or `skip` an event it cannot apply.
    policy: Option<FailurePolicy>,
}

/// `PUT /modules/{name}`: the body is the component; it goes live at once.
pub(crate) async fn deploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DeployQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let policy = query.policy.unwrap_or_default();
    let info = state.engine.deploy(&name, &body, policy).await?;
    Ok(Json(info).into_response())
}
