//! Routes for operators: health, and metrics in the Prometheus text format (the
//! OpenMetrics flavour), encoded by `prometheus-client` from the engine's counters
//! and the histograms each part keeps (see [`crate::metrics`]).

use super::AppState;
use crate::engine::Engine;
use crate::metrics::Labels;
use crate::store::LogFilter;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use serde_json::json;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

/// The content type of `GET /metrics`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /health`: the engine answers and knows its log head.
pub(crate) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "head": state.engine.store().head() }))
}

/// `GET /metrics`: every counter, gauge and histogram of the engine.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let engine = &state.engine;
    let mut registry = Registry::default();
    counters(engine, &mut registry);
    histograms(engine, &mut registry);
    modules(engine, &mut registry);
    projections(engine, &mut registry).await;
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(_) => super::error::ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the metrics could not be encoded",
        )
        .into_response(),
    }
}

/// The engine-wide counters (their samples named `<name>_total`) and gauges.
fn counters(engine: &Engine, registry: &mut Registry) {
    let store = engine.store().metrics();
    let commands = engine.commands().metrics();
    for (name, help, value) in [
        (
            "refold_commands",
            "Commands handled (events appended or none decided).",
            commands.handled,
        ),
        (
            "refold_rejections",
            "Commands a decider rejected or could not read.",
            commands.rejected,
        ),
        (
            "refold_command_conflicts",
            "Command appends that conflicted and were decided again.",
            commands.conflicts,
        ),
        (
            "refold_command_cache_hits",
            "Commands that started from a cached state.",
            commands.cache_hits,
        ),
        ("refold_appends", "Appends committed.", store.appends),
        (
            "refold_events_appended",
            "Events committed.",
            store.events_appended,
        ),
        (
            "refold_append_conflicts",
            "Appends refused for a version conflict.",
            store.conflicts,
        ),
        (
            "refold_commits",
            "Group commits of the store's writer.",
            store.commits,
        ),
    ] {
        registry.register(name, help, ConstCounter::new(value));
    }
    registry.register(
        "refold_log_head",
        "Global position of the last event.",
        ConstGauge::new(i64::try_from(engine.store().head()).unwrap_or(i64::MAX)),
    );
    let started = commands.handled + commands.rejected;
    let ratio = if started == 0 {
        0.0
    } else {
        commands.cache_hits as f64 / started as f64
    };
    registry.register(
        "refold_command_cache_hit_ratio",
        "Of the commands handled or rejected, the share that started from a cached state.",
        ConstGauge::<f64>::new(ratio),
    );
}

/// The latency histograms and the writer's group sizes.
fn histograms(engine: &Engine, registry: &mut Registry) {
    registry.register(
        "refold_command_seconds",
        "Seconds from a command's arrival to its outcome, by decider and outcome.",
        engine.commands().latency().clone(),
    );
    if let Some(store) = engine.store().histograms() {
        registry.register(
            "refold_append_seconds",
            "Seconds from an append's call to its commit or refusal.",
            store.append_seconds.clone(),
        );
        registry.register(
            "refold_writer_group_size",
            "Writes committed together by each group commit of the store's writer.",
            store.group_size.clone(),
        );
    }
    let guests = engine.runtime().guest_metrics();
    registry.register(
        "refold_guest_call_seconds",
        "Seconds of each guest call, by module.",
        guests.call_seconds.clone(),
    );
    registry.register(
        "refold_guest_faults",
        "Guest calls that faulted, by module and kind of fault.",
        guests.faults.clone(),
    );
    registry.register(
        "refold_projection_batch_seconds",
        "Seconds to apply and commit one batch of events, by projection.",
        engine.projections().batch_latency().clone(),
    );
}

/// What each module's current version has done and keeps.
fn modules(engine: &Engine, registry: &mut Registry) {
    let calls = Family::<Labels, Counter>::default();
    let idle = Family::<Labels, Gauge>::default();
    let memory = Family::<Labels, Gauge>::default();
    for info in engine.runtime().modules() {
        let Ok(module) = engine.runtime().module(&info.name) else {
            continue;
        };
        let labels = vec![
            ("module", info.name.clone()),
            ("version", module.info().version.to_string()),
        ];
        let pool = module.pool_stats();
        calls.get_or_create(&labels).inc_by(module.calls());
        idle.get_or_create(&labels)
            .set(saturating(pool.idle as u64));
        memory
            .get_or_create(&labels)
            .set(saturating(pool.memory as u64));
    }
    registry.register("refold_guest_calls", "Guest calls, by module.", calls);
    registry.register(
        "refold_guest_idle_instances",
        "Instances kept warm, by module.",
        idle,
    );
    registry.register(
        "refold_guest_idle_memory_bytes",
        "Linear memory of the instances kept warm, by module.",
        memory,
    );
}

/// How far behind each projection is, in events and in seconds.
async fn projections(engine: &Engine, registry: &mut Registry) {
    let lag = Family::<Labels, Gauge>::default();
    let seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for status in engine.projections().status() {
        let labels = vec![("projection", status.name.clone())];
        let active = &status.active;
        lag.get_or_create(&labels).set(saturating(active.lag));
        let behind = lag_seconds(engine, active.checkpoint, active.head).await;
        seconds.get_or_create(&labels).set(behind);
    }
    registry.register(
        "refold_projection_lag",
        "Events of the log a projection has not passed yet.",
        lag,
    );
    registry.register(
        "refold_projection_lag_seconds",
        "Age of the oldest event a projection has not passed yet (0 when caught up).",
        seconds,
    );
}

/// The age in seconds of the first event after `checkpoint`, 0 when there is none
/// (the projection is at `head`) or it cannot be read.
pub(crate) async fn lag_seconds(engine: &Engine, checkpoint: u64, head: u64) -> f64 {
    if checkpoint >= head {
        return 0.0;
    }
    let next = engine
        .read_log(checkpoint, &LogFilter::default(), 1, true)
        .await;
    let recorded = next
        .ok()
        .and_then(|events| events.into_iter().next())
        .and_then(|event| humantime::parse_rfc3339(&event.recorded_at).ok());
    recorded
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .map_or(0.0, |age| age.as_secs_f64())
}

fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
