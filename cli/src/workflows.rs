//! `refold workflows`: what each workflow is doing.

use crate::remote::Server;
use crate::{open_engine, print_json};
use clap::Args;
use refold::store::StoreUrl;
use std::process::ExitCode;

/// Show every workflow: state, checkpoint, lag, instances open, timers pending and
/// last error.
///
/// With `--server`, as the running server sees them (live figures); without, as the
/// database records them.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  refold workflows\n  refold workflows --server http://127.0.0.1:4400 --json"
)]
pub struct WorkflowsArgs {
    #[command(flatten)]
    server: Server,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn status(store: &StoreUrl, args: &WorkflowsArgs) -> anyhow::Result<ExitCode> {
    let statuses = args.server.statuses("/workflows", "workflows", || {
        let engine = open_engine(store, false)?;
        Ok(crate::block_on(engine.workflow_status())?
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
    println!(
        "{:<24} {:<12} {:>7} {:>10} {:>8} {:>6} {:>8} {:>7}  LAST ERROR",
        "NAME", "STATE", "VERSION", "CHECKPOINT", "LAG", "OPEN", "FINISHED", "TIMERS"
    );
    for s in &statuses {
        println!(
            "{:<24} {:<12} {:>7} {:>10} {:>8} {:>6} {:>8} {:>7}  {}",
            s["name"].as_str().unwrap_or_default(),
            s["state"].as_str().unwrap_or_default(),
            s["version"],
            s["checkpoint"],
            s["lag"],
            s["instancesOpen"],
            s["instancesFinished"],
            s["timersPending"],
            s["lastError"].as_str().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}
