//! `refold modules`: what is deployed, and the versions of one module.

use crate::open_engine;
use clap::Args;
use refold::store::StoreUrl;

use std::process::ExitCode;

/// List the current version of every deployed module, or every version of one.
///
/// With a name, each version deployed under it, oldest first: its number, content
/// hash, world, size and when it was deployed (`refold rollback` goes back to one).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold modules --db refold.db
  refold modules cart")]
pub struct ModulesArgs {
    /// Show the version history of this module.
    name: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(store: &StoreUrl, args: &ModulesArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(store, false)?;
    if let Some(name) = &args.name {
        return history(&engine, name, args.json);
    }
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

/// Every version of `name`, oldest first.
fn history(engine: &refold::engine::Engine, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let versions = crate::block_on(engine.history(name))?;
    if versions.is_empty() {
        anyhow::bail!("{}", refold::Error::UnknownModule(name.to_owned()));
    }
    if json {
        for version in &versions {
            crate::print_json(version)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>7}  {:<12}  {:<10} {:>10}  DEPLOYED AT",
        "VERSION", "SHA256", "WORLD", "BYTES"
    );
    for v in &versions {
        println!(
            "{:>7}  {:<12}  {:<10} {:>10}  {}",
            v.version,
            &v.hash[..12],
            v.world.name(),
            v.size,
            v.deployed_at
        );
    }
    Ok(ExitCode::SUCCESS)
}
