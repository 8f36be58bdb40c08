//! `refold rollback`: put an earlier version's bytes live again, as a new version.

use crate::open_engine;
use crate::remote::Server;
use anyhow::Context;
use clap::Args;
use refold::engine::Rollback;
use refold::store::StoreUrl;
use std::process::ExitCode;

/// Re-deploy the bytes of an earlier version of a module as its next version.
///
/// By default the version re-deployed is the newest one before the current version
/// whose bytes differ from the current ones; `--to` names another (`refold modules
/// <name>` lists them). The history only grows: the rollback is a new version, live at
/// once like any deploy (with `--server` on that server; without, in the store, where
/// a server running on it makes it live within its `--deploy-check`).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold rollback cart
  refold rollback cart --to 3 --server http://127.0.0.1:4400")]
pub struct RollbackArgs {
    /// The module's name.
    name: String,
    /// The version whose bytes to re-deploy.
    #[arg(long, value_name = "VERSION")]
    to: Option<u64>,
    /// Go back even to a version of the other world (a projection where a decider is
    /// now, or the reverse).
    #[arg(long)]
    replace_world: bool,
    #[command(flatten)]
    server: Server,
}

pub fn run(store: &StoreUrl, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let rollback: Rollback = match &args.server.server {
        Some(base) => {
            let path = format!(
                "/modules/{}/rollback?replaceWorld={}",
                args.name, args.replace_world
            );
            let body = args
                .to
                .map(|to| serde_json::json!({ "to": to }).to_string());
            let answer =
                args.server
                    .call(base, "POST", &path, body.as_deref().map(str::as_bytes))?;
            serde_json::from_value(answer).context("the server's answer is not a rollback")?
        }
        None => crate::block_on(open_engine(store, false)?.rollback(
            &args.name,
            args.to,
            args.replace_world,
        ))
        .with_context(|| format!("cannot roll back '{}'", args.name))?,
    };
    println!(
        "rolled back to version {}: deployed {}",
        rollback.rolled_back_to,
        crate::deploy::describe(&rollback.module)
    );
    Ok(ExitCode::SUCCESS)
}
