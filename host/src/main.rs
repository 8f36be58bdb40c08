//! The `refold` command line.
//!
//! This file only wires the process: parse the arguments, send logs to stderr, run
//! the command (see `cli`), print an error's whole chain once, and turn the outcome
//! into the exit code: 0 success, 1 a check failed (e.g. a spec case), 2 an error.

mod cli;

use clap::Parser;
use cli::{Cli, LogFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_level, cli.log_format);
    match cli::run(cli) {
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
