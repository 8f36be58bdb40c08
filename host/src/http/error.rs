//! How engine errors become HTTP responses: one status per kind of error, and a JSON
//! body that says what was wrong (`{"error": {"kind", "message", ...}}`).

use crate::Error;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error on its way to the client.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    module: Option<String>,
}

impl ApiError {
    /// A client error that is not an engine error (bad query, bad body...).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad-request",
            message: message.into(),
            module: None,
        }
    }

    /// What went wrong, for logs.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            module: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let (status, kind, module) = match &error {
            Error::Rejected { module, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "rejected", Some(module))
            }
            Error::InvalidCommand { module, .. } => {
                (StatusCode::BAD_REQUEST, "invalid-command", Some(module))
            }
            Error::Conflict { .. } => (StatusCode::CONFLICT, "conflict", None),
            Error::TooManyConflicts { .. } => (StatusCode::CONFLICT, "too-many-conflicts", None),
            Error::InvalidAppend { .. } => (StatusCode::BAD_REQUEST, "invalid-append", None),
            Error::DuplicateEventId { .. } => (StatusCode::CONFLICT, "duplicate-event-id", None),
            Error::InvalidRead(_) => (StatusCode::BAD_REQUEST, "invalid-read", None),
            Error::Guest { module, .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "guest-fault",
                Some(module),
            ),
            Error::UnknownModule(module) => (StatusCode::NOT_FOUND, "unknown-module", Some(module)),
            Error::NotA { module, .. } => (StatusCode::BAD_REQUEST, "wrong-world", Some(module)),
            Error::InvalidModule { module, .. }
            | Error::WrongWorld { module, .. }
            | Error::Unlinkable { module, .. } => {
                (StatusCode::BAD_REQUEST, "invalid-module", Some(module))
            }
            Error::InvalidModuleName(_) => (StatusCode::BAD_REQUEST, "invalid-module-name", None),
            Error::UnknownProjection(_) => (StatusCode::NOT_FOUND, "unknown-projection", None),
            Error::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid-query", None),
            Error::ProjectionTimeout { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "projection-behind", None)
            }
            Error::ProjectionFaulted { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "projection-faulted",
                None,
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        if status.is_server_error() {
            tracing::error!(error = %format!("{error:#}"), "request failed");
        }
        ApiError {
            status,
            kind,
            message: chain(&error),
            module: module.cloned(),
        }
    }
}

/// The error's message followed by its sources, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "kind": self.kind, "message": self.message });
        if let Some(module) = self.module {
            body["module"] = json!(module);
        }
        (self.status, Json(json!({ "error": body }))).into_response()
    }
}
