//! The `refold` command line.
//!
//! This file wires the process: it declares the global options, parses the arguments,
//! sends logs to stderr, opens the engine for the subcommands that need it, runs the
//! command (one module per subcommand, each with its arguments and a `run` function),
//! prints an error's whole chain once, and turns the outcome into the exit code: 0
//! success, 1 a check failed (e.g. a spec case), 2 an error. Errors are `anyhow` here,
//! at the edge, wrapping the library's typed [`refold::Error`].

mod append;
mod bench;
mod command;
mod deploy;
mod export;
mod import;
mod modules;
mod projections;
mod read;
mod remote;
mod serve;
mod test;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use refold::engine::{Engine, EngineConfig};
use refold::store::sqlite::Synchronous;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// An event-sourcing engine on SQLite whose domain logic runs as sandboxed
/// WebAssembly components.
#[derive(Debug, Parser)]
#[command(
    name = "refold",
    version,
    after_help = "\
Examples:
  refold serve --deploy cart=cart.wasm --deploy cart-summary=cart_summary.wasm
  refold command cart cart-1 '{\"type\":\"OpenCart\",\"data\":{...}}'
  refold read cart-1
  refold test cart.wasm examples/cart/specs"
)]
struct Cli {
    /// The database file of the event store.
    #[arg(long, global = true, env = "REFOLD_DB", default_value = "refold.db")]
    db: PathBuf,
    /// Which logs to print to stderr: a level (error, warn, info, debug, trace) or
    /// filter directives such as `refold=debug`.
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn", value_parser = log_filter)]
    log_level: String,
    /// How logs are written: `human` text or one `json` object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    action: Action,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Action {
    Serve(serve::ServeArgs),
    Deploy(deploy::DeployArgs),
    Modules(modules::ModulesArgs),
    Append(append::AppendArgs),
    Read(read::ReadArgs),
    Export(export::ExportArgs),
    Import(import::ImportArgs),
    Command(command::CommandArgs),
    Projections(projections::ProjectionsArgs),
    Rebuild(projections::RebuildArgs),
    Query(projections::QueryArgs),
    Test(test::TestArgs),
    Bench(bench::BenchArgs),
}

/// Run the parsed command; `Ok` carries its exit code.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.db.as_path();
    match cli.action {
        Action::Serve(args) => serve::run(db, args),
        Action::Deploy(args) => deploy::run(db, &args),
        Action::Modules(args) => modules::run(db, &args),
        Action::Append(args) => append::run(db, &args),
        Action::Read(args) => read::run(db, &args),
        Action::Export(args) => export::run(db, &args),
        Action::Import(args) => import::run(db, &args),
        Action::Command(args) => command::run(db, &args),
        Action::Projections(args) => projections::status(db, &args),
        Action::Rebuild(args) => projections::rebuild(db, &args),
        Action::Query(args) => projections::query(db, &args),
        Action::Test(args) => test::run(&args),
        Action::Bench(args) => bench::run(&args),
    }
}

/// How durable a commit is, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Durability {
    /// An acknowledged write survives power loss.
    Full,
    /// An acknowledged write survives a process crash.
    Normal,
}

impl From<Durability> for Synchronous {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Full => Synchronous::Full,
            Durability::Normal => Synchronous::Normal,
        }
    }
}

/// The async runtime the engine runs on, started on first use and kept for the
/// process: projection runners and the store's futures live on it.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("the operating system lets this process start the async runtime's threads")
    })
}

/// Run `future` to completion on the [`runtime`], from the command's own thread.
fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// Open the engine on `db`. Only `serve` and offline rebuilds run projections; other
/// commands leave them to the server that may be running on the same file.
fn open_engine(db: &Path, run_projections: bool) -> anyhow::Result<Engine> {
    let config = EngineConfig {
        run_projections,
        ..EngineConfig::new(db)
    };
    block_on(Engine::open(config))
        .with_context(|| format!("cannot open the database {}", db.display()))
}

/// Print one value as a line of JSON.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// Accept `text` only if it is a valid log filter.
fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not a log level or filter: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_level, cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr, filtered by `level` (validated when parsed), as text or JSON lines.
fn init_tracing(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::new(level);
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}
