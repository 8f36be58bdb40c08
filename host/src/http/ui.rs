//! The admin page: `GET /ui` (and `/`, which redirects there) serves one HTML page
//! whose script and style are compiled into the binary (`include_str!`, no build
//! step, nothing fetched from elsewhere). The page reads the same API as any client,
//! with `fetch`, so what it shows is what the API answers.
//!
//! When the server has a token, the page asks for it before it shows anything and
//! checks it with `POST /ui/session` (which, as every request that is not a read,
//! needs the token); it then sends it as an `Authorization` header on every request,
//! never in a URL, and keeps it in the tab's session storage only.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

/// `GET /`: the admin page is the front door.
pub(crate) async fn home() -> Redirect {
    Redirect::to("/ui")
}

/// `GET /ui`: the page.
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /ui/app.js`: its script.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /ui/app.css`: its style.
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /ui/config`: what the page must know before it reads: whether it must ask
/// for a token.
pub(crate) async fn config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "tokenRequired": state.token.is_some() }))
}

/// `POST /ui/session`: answers 204 when the request carries the server's token (or
/// the server has none); the authorization layer answers 401 otherwise.
pub(crate) async fn session() -> StatusCode {
    StatusCode::NO_CONTENT
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
