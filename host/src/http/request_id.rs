//! Request ids, so that a client's report and the server's log meet on one id: every
//! request gets one (the `X-Request-Id` it sent, or a new UUID), every log line
//! written while it is served carries it (a `request` span around the handler), one
//! INFO line says how it was answered, and the answer returns the id. A request's
//! `traceparent` makes its span continue the caller's trace, when a binary installed
//! the hook for it ([`crate::remote_parent`]).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The header a request id travels in, both ways.
pub(crate) const HEADER: &str = "x-request-id";

/// The longest id taken from a request; a longer one is replaced by a new id.
const MAX_ID_BYTES: usize = 200;

/// Serve `request` inside a span carrying its id, and return the id with the answer.
/// The span holds the method and path, never the query string or the headers.
pub(crate) async fn tag(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| usable(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::remote_parent::continue_trace(&span, traceparent);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis(),
            "answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Whether a client's id can be logged and sent back as it is: printable ASCII
/// without spaces, at most [`MAX_ID_BYTES`].
fn usable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && id.bytes().all(|b| b.is_ascii_graphic())
}
