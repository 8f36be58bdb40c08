//! The subcommands of `refold` and the options they share.
//!
//! Each subcommand lives in its own module with its arguments and a `run` function;
//! this module declares the global options and dispatches. Errors are `anyhow` here,
//! at the edge, wrapping the library's typed [`refold::Error`].

mod test;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// An event-sourcing engine on SQLite whose domain logic runs as sandboxed
/// WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "refold", version)]
pub struct Cli {
    /// The database file of the event store.
    #[arg(long, global = true, env = "REFOLD_DB", default_value = "refold.db")]
    // Global so every subcommand takes it, though `test` opens no store.
    db: PathBuf,
    /// Which logs to print to stderr: a level (error, warn, info, debug, trace) or
    /// filter directives such as `refold=debug`.
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn", value_parser = log_filter)]
    pub log_level: String,
    /// How logs are written: `human` text or one `json` object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    Test(test::TestArgs),
}

/// Run the parsed command; `Ok` carries its exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Test(args) => test::run(&args),
    }
}

/// Accept `text` only if it is a valid log filter.
fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not a log level or filter: {e}"))
}
