//! Routes for operators: health and Prometheus metrics.

use super::AppState;
use crate::runtime::Module;
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
    let modules: Vec<_> = engine
        .runtime()
        .modules()
        .iter()
        .filter_map(|info| engine.runtime().module(&info.name).ok())
        .collect();
    let per_module = |text: &mut String,
                      metric: &str,
                      help: &str,
                      kind: &str,
                      value: &dyn Fn(&Module) -> String| {
        let _ = writeln!(text, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for module in &modules {
            let info = module.info();
            let _ = writeln!(
                text,
                "{metric}{{module=\"{}\",version=\"{}\"}} {}",
                info.name,
                info.version,
                value(module)
            );
        }
    };
    per_module(
        &mut text,
        "refold_guest_calls_total",
        "Guest calls, by module.",
        "counter",
        &|m| m.calls().to_string(),
    );
    per_module(
        &mut text,
        "refold_guest_call_seconds_total",
        "Time spent in guest calls, by module.",
        "counter",
        &|m| format!("{:.6}", m.call_time().as_secs_f64()),
    );
    per_module(
        &mut text,
        "refold_guest_idle_instances",
        "Instances kept warm, by module.",
        "gauge",
        &|m| m.pool_stats().idle.to_string(),
    );
    per_module(
        &mut text,
        "refold_guest_idle_memory_bytes",
        "Linear memory of the instances kept warm, by module.",
        "gauge",
        &|m| m.pool_stats().memory.to_string(),
    );
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
