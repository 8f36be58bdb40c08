//! `refold deploy`: put a module live, in a running server or in a database file.

use crate::open_engine;
use crate::remote::Server;
use anyhow::Context;
use clap::Args;
use refold::engine::DeployOptions;
use refold::projections::FailurePolicy;
use refold::runtime::ModuleInfo;
use refold::store::StoreUrl;
use std::path::PathBuf;
use std::process::ExitCode;

/// Deploy a WebAssembly component as the next version of a module.
///
/// With `--server`, the running server swaps it in at once (hot swap). Without, it is
/// recorded in the database file: a server running on that file makes it live within
/// its `--deploy-check` (half a second by default), any other when it next starts.
/// A module of another world than the name's current version (a projection under a
/// decider's name, or the reverse) is refused unless `--replace-world`.
///
/// `--schema FILE` ships the JSON Schemas of the module's commands and events with it
/// (`{"commands": SCHEMA, "events": SCHEMA}`, each optional), for modules whose tools
/// cannot export them (Python, JavaScript): the document goes into the component as a
/// custom section, and the engine refuses a command that does not match before the
/// decider sees it.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold deploy cart target/wasm32-wasip2/release/cart.wasm
  refold deploy cart-summary cart_summary.wasm --policy skip --server http://127.0.0.1:4400
  refold deploy counter counter.wasm --schema schema.json
  refold rollback cart                # back to the version before, as a new version")]
pub struct DeployArgs {
    /// The module's name (lowercase letters, digits, '-', '_', '.').
    name: String,
    /// The component file.
    file: PathBuf,
    /// For a projection or workflow: what to do with an event it cannot apply.
    #[arg(long, value_enum, default_value = "stop")]
    policy: Policy,
    /// Replace the name's current module even when it is of the other world (a
    /// projection replacing a decider, or the reverse).
    #[arg(long)]
    replace_world: bool,
    /// A schema document to ship with the module: `{"commands": SCHEMA, "events":
    /// SCHEMA}` (JSON Schemas, each optional), embedded in the component.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Policy {
    /// Stop at the event, keeping its position and error.
    Stop,
    /// Record the event as skipped and go on.
    Skip,
    /// Try the event again, with a pause doubling from one second to a minute.
    Retry,
}

impl From<Policy> for FailurePolicy {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Stop => FailurePolicy::Stop,
            Policy::Skip => FailurePolicy::Skip,
            Policy::Retry => FailurePolicy::Retry,
        }
    }
}

pub fn run(store: &StoreUrl, args: &DeployArgs) -> anyhow::Result<ExitCode> {
    let mut bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read module file {}", args.file.display()))?;
    if let Some(schema) = &args.schema {
        let document = std::fs::read_to_string(schema)
            .with_context(|| format!("cannot read the schema file {}", schema.display()))?;
        bytes = refold::runtime::embed_schemas(&bytes, &document).map_err(|reason| {
            anyhow::anyhow!(
                "cannot ship {} with {}: {reason}",
                schema.display(),
                args.file.display()
            )
        })?;
    }
    let options = DeployOptions {
        policy: FailurePolicy::from(args.policy),
        replace_world: args.replace_world,
    };
    let info: ModuleInfo = match &args.server.server {
        Some(base) => {
            let path = format!(
                "/modules/{}?policy={}&replaceWorld={}",
                args.name,
                options.policy.as_str(),
                options.replace_world
            );
            let answer = args.server.call(base, "PUT", &path, Some(&bytes))?;
            serde_json::from_value(answer).context("the server's answer is not a module")?
        }
        None => {
            crate::block_on(open_engine(store, false)?.deploy_with(&args.name, &bytes, options))
                .with_context(|| {
                    format!("cannot deploy {} as '{}'", args.file.display(), args.name)
                })?
        }
    };
    println!("deployed {}", describe(&info));
    Ok(ExitCode::SUCCESS)
}

/// `cart version 2 (decider module, 1234 bytes, sha256 0123456789ab)`.
pub fn describe(info: &ModuleInfo) -> String {
    format!(
        "{} version {} ({} module, {} bytes, sha256 {})",
        info.name,
        info.version,
        info.world.name(),
        info.size,
        &info.hash[..12]
    )
}
