//! Routes for operators: health and Prometheus metrics.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use std::fmt::Write;

/// `GET /health`: the engine answers and knows its log head.
pub(crate) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "head": state.engine.store().head() }))
}

/// `GET /metrics`: counters in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let engine = &state.engine;
    let store = engine.store().metrics();
    let commands = engine.commands().metrics();
    let mut text = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "refold_commands_total",
        "Commands handled (events appended or none decided).",
        commands.handled,
    );
    counter(
        "refold_rejections_total",
        "Commands a decider rejected or could not read.",
        commands.rejected,
    );
    counter(
        "refold_command_conflicts_total",
        "Command appends that conflicted and were decided again.",
        commands.conflicts,
    );
    counter("refold_appends_total", "Appends committed.", store.appends);
    counter(
        "refold_events_appended_total",
        "Events committed.",
        store.events_appended,
    );
    counter(
        "refold_append_conflicts_total",
        "Appends refused for a version conflict.",
        store.conflicts,
    );
    counter(
        "refold_commits_total",
        "Group commits of the store's writer.",
        store.commits,
    );
    let _ = writeln!(
        text,
        "# HELP refold_log_head Global position of the last event.\n# TYPE refold_log_head gauge\nrefold_log_head {}",
        engine.store().head()
    );
    let _ = writeln!(
        text,
        "# HELP refold_guest_calls_total Guest calls, by module.\n# TYPE refold_guest_calls_total counter"
    );
    let modules = engine.runtime().modules();
    for info in &modules {
        if let Ok(module) = engine.runtime().module(&info.name) {
            let _ = writeln!(
                text,
                "refold_guest_calls_total{{module=\"{}\",version=\"{}\"}} {}",
                info.name,
                info.version,
                module.calls()
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP refold_guest_call_seconds_total Time spent in guest calls, by module.\n# TYPE refold_guest_call_seconds_total counter"
    );
    for info in &modules {
        if let Ok(module) = engine.runtime().module(&info.name) {
            let _ = writeln!(
                text,
                "refold_guest_call_seconds_total{{module=\"{}\",version=\"{}\"}} {:.6}",
                info.name,
                info.version,
                module.call_time().as_secs_f64()
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP refold_projection_lag Events of the log a projection has not passed yet.\n# TYPE refold_projection_lag gauge"
    );
    for status in engine.projections().status() {
        let _ = writeln!(
            text,
            "refold_projection_lag{{projection=\"{}\"}} {}",
            status.name, status.active.lag
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
