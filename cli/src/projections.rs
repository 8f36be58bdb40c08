//! `refold projections`, `refold rebuild` and `refold query`: the read side.

use crate::remote::Server;
use crate::{open_engine, print_json};
use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use refold::projections::{ListQuery, ProjectionStatus};
use refold::store::StoreUrl;

use std::process::ExitCode;
use std::time::Duration;

/// Show every projection: state, checkpoint, lag, speed and last error.
///
/// With `--server`, as the running server sees them (live figures); without, as the
/// database file records them.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  refold projections\n  refold projections --server http://127.0.0.1:4400"
)]
pub struct ProjectionsArgs {
    #[command(flatten)]
    server: Server,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn status(store: &StoreUrl, args: &ProjectionsArgs) -> anyhow::Result<ExitCode> {
    let statuses = args.server.statuses("/projections", "projections", || {
        let engine = open_engine(store, false)?;
        let mut statuses: Vec<ProjectionStatus> = engine.projections().status();
        crate::block_on(engine.projections().read_runners(&mut statuses))?;
        Ok(statuses
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?)
    })?;
    if args.json {
        for status in &statuses {
            print_json(status)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", table(&statuses));
    Ok(ExitCode::SUCCESS)
}

/// The statuses as a table, each column as wide as its widest cell: names and states
/// left, figures right, the last error unpadded at the end of its line.
fn table(statuses: &[serde_json::Value]) -> String {
    const HEADERS: [&str; 8] = [
        "NAME",
        "STATE",
        "VERSION",
        "CHECKPOINT",
        "HEAD",
        "LAG",
        "EVENTS/S",
        "LAST ERROR",
    ];
    let rows: Vec<[String; 8]> = statuses
        .iter()
        .map(|s| {
            let active = &s["active"];
            let figure = |key: &str| active[key].as_u64().unwrap_or_default().to_string();
            [
                s["name"].as_str().unwrap_or_default().to_owned(),
                state_word(active),
                figure("version"),
                figure("checkpoint"),
                figure("head"),
                figure("lag"),
                format!(
                    "{:.0}",
                    active["eventsPerSecond"].as_f64().unwrap_or_default()
                ),
                active["lastError"].as_str().unwrap_or("-").to_owned(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            let width = widths[column];
            match column {
                0 | 1 => text.push_str(&format!("{cell:<width$}  ")),
                7 => text.push_str(cell),
                _ => text.push_str(&format!("{cell:>width$}  ")),
            }
        }
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut text = line(HEADERS);
    for row in &rows {
        text.push_str(&line(row.each_ref().map(String::as_str)));
    }
    text
}

/// A generation's state as the table says it. `stopped` (which the failure policy
/// `stop` makes easy to misread) is said as `not running` when no process holds the
/// generation's lease, and as `runs elsewhere` when another process does.
fn state_word(generation: &serde_json::Value) -> String {
    let state = generation["state"].as_str().unwrap_or_default();
    let runner = &generation["runner"];
    match state {
        "stopped" if runner.is_object() && runner["thisNode"] != true => {
            "runs elsewhere".to_owned()
        }
        "stopped" => "not running".to_owned(),
        state => state.to_owned(),
    }
}

/// Rebuild a projection's read model from the start, beside the current one.
///
/// With `--server`, the running server rebuilds it (queries keep reading the old model
/// until the new one has caught up). Without, the rebuild runs here, with a progress
/// bar, and the command returns once the new read model is live.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  refold rebuild cart-summary\n  refold rebuild cart-summary --server http://127.0.0.1:4400"
)]
pub struct RebuildArgs {
    /// The projection.
    name: String,
    #[command(flatten)]
    server: Server,
}

pub fn rebuild(store: &StoreUrl, args: &RebuildArgs) -> anyhow::Result<ExitCode> {
    if let Some(base) = &args.server.server {
        args.server.call(
            base,
            "POST",
            &format!("/projections/{}/rebuild", args.name),
            None,
        )?;
        println!(
            "rebuilding {} on the server: refold projections --server {base}",
            args.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let engine = open_engine(store, true)?;
    let projections = engine.projections();
    crate::block_on(projections.rebuild(&args.name))?;
    let bar = ProgressBar::new(engine.store().head()).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
            .expect("a valid template"),
    );
    loop {
        let status = projections.status_of(&args.name)?;
        match &status.rebuild {
            Some(building) => {
                if let Some(error) = &building.last_error
                    && building.faulted_at.is_some()
                {
                    bar.abandon();
                    bail!("the rebuild of {} stopped: {error}", args.name);
                }
                bar.set_length(building.head);
                bar.set_position(building.checkpoint);
            }
            None => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
    let status = projections.status_of(&args.name)?;
    println!(
        "rebuilt {}: generation {} at position {}",
        args.name, status.active.generation, status.active.checkpoint
    );
    Ok(ExitCode::SUCCESS)
}

/// Read documents of a projection's read model: one by id, or a page of a collection.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold query cart-summary cart_summary cart-1
  refold query cart-summary cart_summary --field status --value confirmed --limit 10")]
pub struct QueryArgs {
    /// The projection.
    projection: String,
    /// The collection.
    collection: String,
    /// A document id (omit to list the collection).
    id: Option<String>,
    /// The partition.
    #[arg(long, default_value = refold::store::DEFAULT_PARTITION)]
    partition: String,
    /// List: page size.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// List: start after this id.
    #[arg(long)]
    after: Option<String>,
    /// List: only documents whose top-level FIELD...
    #[arg(long, requires = "value")]
    field: Option<String>,
    /// ...equals VALUE (JSON, or else a string).
    #[arg(long, requires = "field")]
    value: Option<String>,
}

pub fn query(store: &StoreUrl, args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(store, false)?;
    let projections = engine.projections();
    if let Some(id) = &args.id {
        let document = projections.get(&args.projection, &args.partition, &args.collection, id);
        return match crate::block_on(document)? {
            Some(document) => {
                println!("{document}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!(
                    "{}/{} has no document '{id}'",
                    args.projection, args.collection
                );
                Ok(ExitCode::from(1))
            }
        };
    }
    let mut list = ListQuery::first(args.limit);
    if let Some(after) = &args.after {
        list = list.after(after.clone());
    }
    if let (Some(field), Some(value)) = (&args.field, &args.value) {
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
        list = list.with_filter(field.clone(), value);
    }
    let page = crate::block_on(projections.list(
        &args.projection,
        &args.partition,
        &args.collection,
        &list,
    ))?;
    print_json(&refold::views::PageView::of(&page))?;
    Ok(ExitCode::SUCCESS)
}
