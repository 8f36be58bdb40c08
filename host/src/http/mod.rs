//! The HTTP API: the engine over JSON, with live events as server-sent events.
//!
//! Every route calls the same [`Engine`] the command line uses, awaiting it (the
//! engine runs guest calls on tokio's blocking pool itself). Errors are JSON bodies with a status per kind
//! (a rejection is 422, a conflict 409, a guest fault 500 naming the module). When a
//! token is configured, every request that changes something must carry it as
//! `Authorization: Bearer <token>`. [`serve`] stops on its shutdown signal after the
//! requests in flight have finished; live feeds end at once.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /commands/{decider}/{stream}` | handle a command (body: the command JSON, with an optional `metadata`; headers `Idempotency-Key`, `X-Correlation-Id`, `traceparent`) |
//! | `POST /commands/{decider}` | handle a command for a query decider (no stream; the same body and headers) |
//! | `POST /streams` | append to several streams at once, all or nothing (`{"appends": [{"stream", "partition"?, "expectedVersion"?, "events"}]}`) |
//! | `POST /streams/{stream}` | append events under an expected version |
//! | `GET /streams/{stream}` | read a stream (`from`, `direction`, `limit`) |
//! | `GET /log` | read the global log (`after`, `limit`, `types`, `category`, `partition`) |
//! | `GET /log/live` | the log as server-sent events, resumable with `Last-Event-ID` |
//! | `PUT /modules/{name}` | deploy a module (body: the component; `?policy=skip` for a projection, `?replaceWorld=true` to replace a decider by a projection or the reverse) |
//! | `POST /modules/{name}/rollback` | re-deploy an earlier version's bytes as the next version (body: nothing, or `{"to": N}`; `?replaceWorld=true`) |
//! | `GET /modules` | the deployed modules |
//! | `GET /modules/{name}/history` | every deploy of a module, oldest first |
//! | `GET /projections`, `GET /projections/{name}` | projection status |
//! | `GET /workflows`, `GET /workflows/{name}` | workflow status: lag, instances open, timers pending, last error |
//! | `POST /projections/{name}/rebuild` | rebuild a read model beside the current one |
//! | `GET /projections/{name}/skipped` | the events a `skip` projection skipped, with their errors (`after`, `limit`) |
//! | `GET /projections/{name}/{collection}` | list documents (`limit`, `after`, `field`+`value`); a page ends at `limit` documents or [`HttpConfig::page_bytes`], its `next` cursor set |
//! | `GET /projections/{name}/{collection}/{id}` | one document |
//! | `GET /health`, `GET /metrics` | liveness; counters, gauges and latency histograms in the Prometheus text format |
//! | `GET /ui` (`GET /` redirects there) | the admin page (`http/ui.rs`), with `GET /ui/config` and `POST /ui/session` (checks the token) |
//!
//! Every answer carries an `X-Request-Id`: the request's own, or one made for it; every
//! log line written while the request is served carries it too.
//!
//! Routes on a stream or a read model take `?partition=` (default `default`).
//! Read-model routes take `?wait_for=<position>` (and `timeout_ms`) to read only once
//! the projection has applied the log up to that position: read your own writes.

mod describe;
mod error;
mod ops;
mod read_models;
mod reads;
mod request_id;
mod ui;
mod writes;

use crate::engine::Engine;
use crate::{Error, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use error::ApiError;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// When set, requests that change something must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Largest request body accepted, in bytes, except deploys.
    pub body_limit: usize,
    /// Largest module accepted by a deploy, in bytes.
    pub module_limit: usize,
    /// Bytes of documents a page of a read-model list ends at (it ends early, with its
    /// `next` cursor, once its documents pass them).
    pub page_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            token: None,
            body_limit: 4 << 20,
            module_limit: 128 << 20,
            page_bytes: crate::store::DEFAULT_PAGE_BYTES,
        }
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    engine: Arc<Engine>,
    shutdown: watch::Receiver<bool>,
    token: Option<Arc<str>>,
    /// The most of a refused request's body read (and dropped) before answering.
    drain_limit: usize,
    /// Bytes of documents a list page ends at.
    page_bytes: usize,
}

/// `?partition=` on routes about one stream.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartitionQuery {
    partition: Option<String>,
}

/// Serve the API on `listener` until `shutdown` completes, then finish the requests
/// in flight and return.
pub async fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stopping, stop_feeds) = watch::channel(false);
    let app = router(engine, config, stop_feeds);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stopping.send(true);
        })
        .await
        .map_err(Error::Serve)
}

fn router(engine: Arc<Engine>, config: HttpConfig, shutdown: watch::Receiver<bool>) -> Router {
    let state = AppState {
        engine,
        shutdown,
        token: config.token.map(Into::into),
        drain_limit: config.module_limit,
        page_bytes: config.page_bytes,
    };
    let modules = Router::new()
        .route("/modules/{name}", put(writes::deploy))
        .layer(DefaultBodyLimit::max(config.module_limit))
        .layer(middleware::from_fn(move |request, next| {
            refuse_oversized(config.module_limit, request, next)
        }));
    Router::new()
        .route("/commands/{decider}", post(writes::query_command))
        .route("/commands/{decider}/{stream}", post(writes::command))
        .route("/streams", post(writes::append_all))
        .route("/streams/{stream}", post(writes::append).get(reads::stream))
        .route("/log", get(reads::log))
        .route("/log/live", get(reads::live))
        .route("/modules", get(reads::modules))
        .route("/modules/{name}/rollback", post(writes::rollback))
        .route("/workflows", get(read_models::workflows))
        .route("/workflows/{name}", get(read_models::workflow))
        .route("/modules/{name}/schema", get(describe::schema))
        .route("/openapi.json", get(describe::openapi))
        .route("/projections", get(read_models::statuses))
        .route("/projections/{name}", get(read_models::status))
        .route("/projections/{name}/rebuild", post(read_models::rebuild))
        .route("/projections/{name}/skipped", get(read_models::skipped))
        .route("/projections/{name}/{collection}", get(read_models::list))
        .route(
            "/projections/{name}/{collection}/{id}",
            get(read_models::get),
        )
        .route("/", get(ui::home))
        .route("/ui", get(ui::page))
        .route("/ui/app.js", get(ui::script))
        .route("/ui/app.css", get(ui::style))
        .route("/ui/config", get(ui::config))
        .route("/ui/session", post(ui::session))
        .route("/modules/{name}/history", get(reads::history))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn(move |request, next| {
            refuse_oversized(config.body_limit, request, next)
        }))
        .merge(modules)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn(request_id::tag))
        .with_state(state)
}

/// Refuse a request that changes something without the configured token.
async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let (true, Some(token)) = (changes, &state.token) {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(token) {
            drain(request, state.drain_limit).await;
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this request changes the engine: send the server's token as 'Authorization: Bearer <token>'",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Read and drop the body of a request refused before its handler ran, so the client,
/// still sending it, reads the answer instead of a reset connection. A client that
/// waits for `100 Continue` has sent nothing: its body is left unsent.
async fn drain(request: Request, limit: usize) {
    use futures_util::StreamExt;
    if request.headers().contains_key(header::EXPECT) {
        return;
    }
    let mut body = request.into_body().into_data_stream();
    let mut drained = 0;
    while drained <= limit {
        match body.next().await {
            Some(Ok(chunk)) => drained += chunk.len(),
            _ => break,
        }
    }
}

/// Answer 413 at once when a request declares a body over `limit`, before reading
/// any of it: a client that waits for `100 Continue` (curl does, for large bodies)
/// gets the answer without sending the body. Bodies of no declared length are
/// counted as they are read (`DefaultBodyLimit`).
async fn refuse_oversized(limit: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the request body is {length} bytes, over this route's limit of {limit}"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// axum answers some requests itself (a query string or path it cannot parse, a body
/// over the limit, a method a route does not have) with plain text or nothing: give
/// those answers the API's JSON error shape too.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let (kind, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            format!("the request body is over this route's size limit ({text})"),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            format!(
                "this route does not take that method; it takes {}",
                parts
                    .headers
                    .get(header::ALLOW)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("other methods")
            ),
        ),
        StatusCode::NOT_FOUND => ("not-found", text.into_owned()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", text.into_owned()),
        status if status.is_server_error() => ("internal", text.into_owned()),
        _ => ("bad-request", text.into_owned()),
    };
    let message = if message.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    let mut json = ApiError::new(status, kind, message).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    json
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}
