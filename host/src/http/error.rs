//! How engine errors become HTTP responses: one status per kind of error, and a JSON
//! body that says what was wrong (`{"error": {"kind", "message", "module"?,
//! "details"?}}`). The mapping names every variant, so a new one must be given its
//! status before the crate compiles.

use crate::store::ExpectedVersion;
use crate::{Error, GuestFault, chain};
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
    /// Facts a client acts on (`stream`, `expected`, `actual`, `position`, ...).
    details: Option<serde_json::Value>,
}

impl ApiError {
    /// A client error that is not an engine error (bad query, bad body...).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad-request",
            message: message.into(),
            module: None,
            details: None,
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
            details: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        use StatusCode as S;
        let (status, kind, module, details) = match &error {
            Error::Rejected { module, .. } => {
                (S::UNPROCESSABLE_ENTITY, "rejected", Some(module), None)
            }
            Error::InvalidCommand { module, .. } => {
                (S::BAD_REQUEST, "invalid-command", Some(module), None)
            }
            Error::CommandSchemaMismatch { module, field, .. } => (
                S::BAD_REQUEST,
                "command-schema-mismatch",
                Some(module),
                Some(json!({ "field": field })),
            ),
            Error::Conflict {
                partition,
                stream,
                expected,
                actual,
            } => (
                S::CONFLICT,
                "conflict",
                None,
                Some(json!({
                    "stream": stream,
                    "partition": partition,
                    "expected": expected_json(*expected),
                    "actual": actual,
                })),
            ),
            Error::IdempotencyKeyReused {
                partition,
                command_id,
                stream,
                ..
            } => {
                let mut details = json!({ "commandId": command_id, "partition": partition });
                if !stream.is_empty() {
                    details["stream"] = json!(stream);
                }
                (
                    S::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    None,
                    Some(details),
                )
            }
            Error::AppendConditionFailed {
                position,
                after,
                head,
            } => (
                S::CONFLICT,
                "append-condition-failed",
                None,
                Some(match after {
                    Some(after) => json!({ "position": position, "after": after, "head": head }),
                    None => json!({ "position": position, "head": head }),
                }),
            ),
            Error::InvalidEventQuery { field, .. } => (
                S::BAD_REQUEST,
                "invalid-event-query",
                None,
                Some(with_field(json!({}), field)),
            ),
            Error::TooManyConflicts {
                partition, stream, ..
            } => (
                S::CONFLICT,
                "too-many-conflicts",
                None,
                Some(json!({ "stream": stream, "partition": partition })),
            ),
            Error::InvalidAppend { stream, field, .. } => (
                S::BAD_REQUEST,
                "invalid-append",
                None,
                Some(with_field(json!({ "stream": stream }), field)),
            ),
            Error::MalformedCommand {
                module,
                stream,
                field,
                ..
            } => (
                S::BAD_REQUEST,
                "invalid-command",
                Some(module),
                Some(with_field(json!({ "stream": stream }), field)),
            ),
            Error::DuplicateEventId {
                position,
                stored_stream,
                ..
            } => (
                S::CONFLICT,
                "duplicate-event-id",
                None,
                Some(json!({ "stream": stored_stream, "position": position })),
            ),
            Error::InvalidImport { position, .. } => (
                S::BAD_REQUEST,
                "invalid-import",
                None,
                Some(json!({ "position": position })),
            ),
            Error::ImportOutOfOrder { position, head } => (
                S::CONFLICT,
                "import-out-of-order",
                None,
                Some(json!({ "position": position, "head": head })),
            ),
            Error::ImportStreamOutOfOrder {
                position,
                partition,
                stream,
                stream_position,
                version,
            } => (
                S::CONFLICT,
                "import-out-of-order",
                None,
                Some(json!({
                    "position": position,
                    "stream": stream,
                    "partition": partition,
                    "streamPosition": stream_position,
                    "actual": version,
                })),
            ),
            Error::ImportIdTaken {
                position,
                event_id,
                stored_at,
            } => (
                S::CONFLICT,
                "duplicate-event-id",
                None,
                Some(json!({ "position": position, "id": event_id, "storedAt": stored_at })),
            ),
            Error::AppendTooLarge {
                measure,
                limit,
                value,
            } => (
                S::BAD_REQUEST,
                "append-too-large",
                None,
                Some(json!({ "measure": measure, "limit": limit, "value": value })),
            ),
            Error::Guest {
                module,
                fault:
                    GuestFault::OutputTooLarge {
                        measure,
                        limit,
                        value,
                    },
                ..
            } => (
                S::INTERNAL_SERVER_ERROR,
                "guest-output-too-large",
                Some(module),
                Some(json!({ "measure": measure, "limit": limit, "value": value })),
            ),
            Error::ModuleRefused { module, .. } => {
                (S::BAD_REQUEST, "module-refused", Some(module), None)
            }
            Error::Guest { module, .. } | Error::StateNotJson { module, .. } => {
                (S::INTERNAL_SERVER_ERROR, "guest-fault", Some(module), None)
            }
            Error::UpcasterOverlap {
                module,
                other,
                event_type,
            } => (
                S::CONFLICT,
                "upcaster-overlap",
                Some(module),
                Some(json!({ "other": other, "value": event_type })),
            ),
            Error::UpcastCycle {
                modules,
                event_type,
            } => (
                S::INTERNAL_SERVER_ERROR,
                "upcast-cycle",
                modules.first(),
                Some(json!({ "modules": modules, "value": event_type })),
            ),
            Error::UnknownModule(module) => (S::NOT_FOUND, "unknown-module", Some(module), None),
            Error::WorldChange {
                module,
                version,
                current,
                deployed,
            } => (
                S::CONFLICT,
                "world-change",
                Some(module),
                Some(json!({ "actual": current, "value": deployed, "version": version })),
            ),
            Error::UnknownVersion {
                module,
                version,
                newest,
            } => (
                S::NOT_FOUND,
                "unknown-version",
                Some(module),
                Some(json!({ "value": version, "actual": newest })),
            ),
            Error::NothingToRollBack { module, .. } => {
                (S::CONFLICT, "nothing-to-roll-back", Some(module), None)
            }
            Error::NotA { module, .. } => (S::BAD_REQUEST, "wrong-world", Some(module), None),
            Error::NotAQueryDecider { module } | Error::NotAStreamDecider { module } => {
                (S::BAD_REQUEST, "wrong-boundary", Some(module), None)
            }
            Error::InvalidModule { module, .. }
            | Error::NotAComponent { module, .. }
            | Error::WrongWorld { module, .. }
            | Error::Unlinkable { module, .. } => {
                (S::BAD_REQUEST, "invalid-module", Some(module), None)
            }
            Error::InvalidModuleName(_) => (S::BAD_REQUEST, "invalid-module-name", None, None),
            Error::UnknownProjection(_) => (S::NOT_FOUND, "unknown-projection", None, None),
            Error::UnknownWorkflow(_) => (S::NOT_FOUND, "unknown-workflow", None, None),
            Error::Workflow { .. } => (S::INTERNAL_SERVER_ERROR, "workflow-failed", None, None),
            Error::InvalidQuery(_) => (S::BAD_REQUEST, "invalid-query", None, None),
            Error::ProjectionTimeout {
                position,
                checkpoint,
                ..
            } => (
                S::SERVICE_UNAVAILABLE,
                "projection-behind",
                None,
                Some(json!({ "position": position, "actual": checkpoint })),
            ),
            Error::BeyondHead { position, head } => (
                S::BAD_REQUEST,
                "beyond-head",
                None,
                Some(json!({ "position": position, "head": head })),
            ),
            Error::ProjectionFaulted { position, .. } => (
                S::INTERNAL_SERVER_ERROR,
                "projection-faulted",
                None,
                Some(json!({ "position": position })),
            ),
            Error::Cancelled => (S::SERVICE_UNAVAILABLE, "shutting-down", None, None),
            Error::Locked { .. } => (S::SERVICE_UNAVAILABLE, "locked", None, None),
            Error::SchemaTooNew { .. }
            | Error::InvalidStoreUrl { .. }
            | Error::CommitFailed { .. }
            | Error::StoreClosed
            | Error::Storage { .. }
            | Error::Io { .. }
            | Error::Runtime(_)
            | Error::Thread { .. }
            | Error::Serve(_) => (S::INTERNAL_SERVER_ERROR, "internal", None, None),
        };
        log_outcome(status, kind, &error);
        ApiError {
            status,
            kind,
            message: chain(&error),
            module: module.cloned(),
            details,
        }
    }
}

/// Log an error answer at the level its cause deserves: only a fault of the server
/// (an internal error, a guest's fault) is an ERROR; a projection that stopped at an
/// event is logged by its runner already, and what the client asked for and did not
/// get (a wait that timed out, a rejection, a conflict, any 4xx) is the client's
/// outcome, not the server's failure.
fn log_outcome(status: StatusCode, kind: &'static str, error: &Error) {
    let error = chain(error);
    match (status, kind) {
        (_, "projection-faulted" | "locked") => {
            tracing::warn!(status = status.as_u16(), kind, %error, "request not served");
        }
        (StatusCode::SERVICE_UNAVAILABLE, _) => {
            tracing::info!(status = status.as_u16(), kind, %error, "request not served");
        }
        (status, _) if status.is_server_error() => {
            tracing::error!(status = status.as_u16(), kind, %error, "request failed");
        }
        _ => tracing::debug!(status = status.as_u16(), kind, %error, "request refused"),
    }
}

/// `details` with the JSON pointer of the offending value as `field`, when there is one.
fn with_field(mut details: serde_json::Value, field: &Option<String>) -> serde_json::Value {
    if let Some(field) = field {
        details["field"] = json!(field);
    }
    details
}

/// An expected version as the append body takes it: a number, or its name.
fn expected_json(expected: ExpectedVersion) -> serde_json::Value {
    match expected {
        ExpectedVersion::Exact(version) => json!(version),
        ExpectedVersion::Any => json!("any"),
        ExpectedVersion::NoStream => json!("no-stream"),
        ExpectedVersion::Exists => json!("exists"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "kind": self.kind, "message": self.message });
        if let Some(module) = self.module {
            body["module"] = json!(module);
        }
        if let Some(details) = self.details {
            body["details"] = details;
        }
        (self.status, Json(json!({ "error": body }))).into_response()
    }
}
