//! `refold modules`: what is deployed.

use crate::open_engine;
use clap::Args;
use refold::store::StoreUrl;

use std::process::ExitCode;

/// List the current version of every deployed module.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  refold modules --db refold.db")]
pub struct ModulesArgs {
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(store: &StoreUrl, args: &ModulesArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(store, false)?;
    let modules = engine.modules();
    if args.json {
        for module in &modules {
            crate::print_json(module)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>7}  {:<10} {:>10}  SHA256",
        "NAME", "VERSION", "WORLD", "BYTES"
    );
    for m in &modules {
        println!(
            "{:<24} {:>7}  {:<10} {:>10}  {}",
            m.name,
            m.version,
            m.world.name(),
            m.size,
            &m.hash[..12]
        );
    }
    if modules.is_empty() {
        eprintln!("no modules deployed: refold deploy <name> <file.wasm>");
    }
    Ok(ExitCode::SUCCESS)
}
