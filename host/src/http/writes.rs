//! Routes that change things: commands, appends, deploys.

use super::error::ApiError;
use super::{AppState, PartitionQuery};
use crate::commands::{CommandOutcome, CommandRequest, RefoldKeys};
use crate::engine::DeployOptions;
use crate::projections::FailurePolicy;
use crate::store::{AppendRequest, Appends, DEFAULT_PARTITION, EventData, ExpectedVersion};
use crate::views::{AppendBody, AppendView, AppendsBody, AppendsView, NewEventBody, OutcomeView};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

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
    let request = command_request(
        CommandRequest::new(stream.as_str(), ""),
        query,
        &headers,
        &body,
    )?;
    let outcome = state
        .engine
        .commands()
        .handle_request(&decider, request)
        .await?;
    tracing::debug!(
        %decider,
        %stream,
        events = outcome.events.len(),
        stream_version = outcome.stream_version,
        "command handled"
    );
    Ok(outcome_response(&outcome))
}

/// `POST /commands/{decider}`: a command for a query decider, whose consistency
/// boundary is a query over tagged events rather than a stream. The same body and
/// headers as a stream decider's command.
pub(crate) async fn query_command(
    State(state): State<AppState>,
    Path(decider): Path<String>,
    Query(query): Query<PartitionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = command_request(CommandRequest::query(""), query, &headers, &body)?;
    let outcome = state
        .engine
        .commands()
        .handle_query_request(&decider, request)
        .await?;
    Ok(outcome_response(&outcome))
}

/// `request` with the body as its envelope, in the query's partition, with Refold's
/// keys from the headers.
fn command_request(
    request: CommandRequest,
    query: PartitionQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CommandRequest, ApiError> {
    let envelope = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the command is not UTF-8 text"))?;
    let keys = RefoldKeys {
        command_id: header(headers, "idempotency-key")?,
        correlation_id: header(headers, "x-correlation-id")?,
        causation_id: None,
        traceparent: header(headers, "traceparent")?,
    };
    Ok(CommandRequest {
        envelope: envelope.to_owned(),
        ..request
    }
    .in_partition(query.partition())
    .with_keys(keys))
}

/// A command's outcome as its answer: `Idempotent-Replayed: true` when it is the
/// recorded outcome of an earlier send.
fn outcome_response(outcome: &CommandOutcome) -> Response {
    let mut response = Json(OutcomeView::of(outcome)).into_response();
    if outcome.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
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
/// version, under the body's condition if it has one; all or nothing.
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
    let appends = Appends {
        appends: requests,
        condition: body.condition,
    };
    let outcomes = state.engine.store().append_all(appends).await?;
    Ok(Json(AppendsView::of(&streams, &outcomes)).into_response())
}

/// An event of an append body as the store takes it.
fn event_data(event: NewEventBody) -> EventData {
    let mut data = EventData::new(event.event_type, event.data.get()).with_tags(event.tags);
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

/// Query of `PUT /modules/{name}` and `POST /modules/{name}/rollback`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployQuery {
    /// For a projection: `stop` (default) or `skip` an event it cannot apply (deploys
    /// only: a rollback keeps the policy of the version it goes back to).
    policy: Option<FailurePolicy>,
    /// Take a module of another world than the name's current version.
    #[serde(rename = "replaceWorld")]
    replace_world: Option<bool>,
}

/// `PUT /modules/{name}`: the body is the component; it goes live at once.
pub(crate) async fn deploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DeployQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let options = DeployOptions {
        policy: query.policy.unwrap_or_default(),
        replace_world: query.replace_world.unwrap_or(false),
    };
    let info = state.engine.deploy_with(&name, &body, options).await?;
    Ok(Json(info).into_response())
}

/// The body of `POST /modules/{name}/rollback`, all optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    /// The version to go back to; by default the newest earlier one with other bytes.
    to: Option<u64>,
}

/// `POST /modules/{name}/rollback`: re-deploy an earlier version's bytes as the next
/// version, live at once.
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DeployQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if query.policy.is_some() {
        return Err(ApiError::bad_request(
            "a rollback keeps the failure policy of the version it goes back to: leave out `policy`",
        ));
    }
    let body: RollbackBody = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the rollback body is not valid: {e}; send nothing, or {{\"to\": <version>}}"
            ))
        })?
    };
    let rollback = state
        .engine
        .rollback(&name, body.to, query.replace_world.unwrap_or(false))
        .await?;
    Ok(Json(rollback).into_response())
}
