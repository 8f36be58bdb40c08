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
mod new;
mod projections;
mod read;
mod remote;
mod rollback;
mod serve;
mod telemetry;
mod test;
mod workflows;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use refold::engine::{Engine, EngineConfig};
use refold::store::StoreUrl;
use refold::store::sqlite::Synchronous;
use std::future::Future;
use std::path::PathBuf;
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
  refold test cart.wasm examples/cart/specs
  refold new counter --kind decider --lang rust
  refold serve --store postgres://refold:secret@db.internal:5432/refold?schema=refold"
)]
struct Cli {
    /// The store: `sqlite:<path>` (default `sqlite:refold.db`) or
    /// `postgres://user:password@host:port/dbname`, with `?schema=NAME` for the schema
    /// Refold's tables live in (default `refold`) and `?sslmode=disable`; a host that is
    /// a percent-encoded path (`%2Frun%2Fpostgresql`) is a Unix socket folder.
    #[arg(long, global = true, env = "REFOLD_STORE", value_name = "URL")]
    store: Option<String>,
    /// The SQLite file of the store: shorthand for `--store sqlite:<path>`.
    #[arg(long, global = true, env = "REFOLD_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// Which logs to print to stderr: a level (error, warn, info, debug, trace) or
    /// filter directives such as `refold=debug`.
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn", value_parser = log_filter)]
    log_level: String,
    /// How logs are written: `human` text or one `json` object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Export spans (requests, commands, appends, guest calls, projection batches)
    /// over OpenTelemetry's OTLP, HTTP with protobuf, to the collector at this base
    /// URL (e.g. `http://127.0.0.1:4318`; traces go to `<URL>/v1/traces`). Off unless
    /// given.
    #[arg(
        long,
        global = true,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        value_name = "URL"
    )]
    otlp_endpoint: Option<String>,
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
    Rollback(rollback::RollbackArgs),
    Append(append::AppendArgs),
    Read(read::ReadArgs),
    Export(export::ExportArgs),
    Import(import::ImportArgs),
    Command(command::CommandArgs),
    Projections(projections::ProjectionsArgs),
    Rebuild(projections::RebuildArgs),
    Query(projections::QueryArgs),
    Workflows(workflows::WorkflowsArgs),
    Test(test::TestArgs),
    New(new::NewArgs),
    Bench(bench::BenchArgs),
}

/// The store the options name: `--store` or `--db` from the command line (not both),
/// else `REFOLD_STORE` or `REFOLD_DB` from the environment (`REFOLD_STORE` first), else
/// `sqlite:refold.db`. The URL is parsed here rather than by clap, whose message would
/// repeat it with its password.
fn chosen_store(
    store: Option<(String, ValueSource)>,
    db: Option<(PathBuf, ValueSource)>,
) -> anyhow::Result<StoreUrl> {
    use ValueSource::CommandLine;
    let store = store
        .map(|(url, source)| url.parse::<StoreUrl>().map(|url| (url, source)))
        .transpose()?;
    Ok(match (store, db) {
        (Some((_, CommandLine)), Some((_, CommandLine))) => anyhow::bail!(
            "--store and --db both name the store: give one (--db <path> is short for \
             --store sqlite:<path>)"
        ),
        (Some((store, CommandLine)), _) => store,
        (_, Some((db, CommandLine))) => StoreUrl::sqlite(db),
        (Some((store, _)), _) => store,
        (None, Some((db, _))) => StoreUrl::sqlite(db),
        (None, None) => StoreUrl::sqlite("refold.db"),
    })
}

/// Run the parsed command; `Ok` carries its exit code.
fn run(cli: Cli, store: &StoreUrl) -> anyhow::Result<ExitCode> {
    match cli.action {
        Action::Serve(args) => serve::run(store, args),
        Action::Deploy(args) => deploy::run(store, &args),
        Action::Modules(args) => modules::run(store, &args),
        Action::Rollback(args) => rollback::run(store, &args),
        Action::Append(args) => append::run(store, &args),
        Action::Read(args) => read::run(store, &args),
        Action::Export(args) => export::run(store, &args),
        Action::Import(args) => import::run(store, &args),
        Action::Command(args) => command::run(store, &args),
        Action::Projections(args) => projections::status(store, &args),
        Action::Rebuild(args) => projections::rebuild(store, &args),
        Action::Query(args) => projections::query(store, &args),
        Action::Workflows(args) => workflows::status(store, &args),
        Action::Test(args) => test::run(&args),
        Action::New(args) => new::run(&args).map(|()| ExitCode::SUCCESS),
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

/// Open the engine on `store`. Only `serve` and offline rebuilds run projections; other
/// commands leave them to the server that may be running on the same store.
fn open_engine(store: &StoreUrl, run_projections: bool) -> anyhow::Result<Engine> {
    let config = EngineConfig {
        run_projections,
        ..EngineConfig::for_store(store.clone())
    };
    block_on(Engine::open(config)).with_context(|| format!("cannot open the database {store}"))
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
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let telemetry = match init_tracing(&cli.log_level, cli.log_format, cli.otlp_endpoint.as_deref())
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let store = chosen_store(
        cli.store.clone().zip(matches.value_source("store")),
        cli.db.clone().zip(matches.value_source("db")),
    );
    let code = match store.and_then(|store| run(cli, &store)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    };
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    code
}

/// Logs go to stderr, filtered by `level` (validated when parsed), as text or JSON
/// lines; text is coloured only when stderr is a terminal, so a log redirected to a
/// file holds no escape codes. With `otlp`, spans are exported there too
/// ([`telemetry`]), filtered apart from the logs.
fn init_tracing(
    level: &str,
    format: LogFormat,
    otlp: Option<&str>,
) -> anyhow::Result<Option<telemetry::Telemetry>> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Human => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    let (spans, telemetry) = match otlp {
        Some(endpoint) => {
            let (layer, telemetry) = telemetry::layer(endpoint)?;
            (
                Some(layer.with_filter(EnvFilter::new(telemetry::EXPORTED))),
                Some(telemetry),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(EnvFilter::new(level)))
        .with(spans)
        .init();
    Ok(telemetry)
}
