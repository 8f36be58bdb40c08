//! `refold command`: send one command to a decider.

use crate::{open_engine, print_json};
use anyhow::Context;
use clap::Args;
use refold::Error;
use refold::commands::CommandRequest;
use refold::store::StoreUrl;
use refold::views::OutcomeView;

use std::process::ExitCode;

/// Handle a command with a deployed decider and print what it appended.
///
/// Exits 1 when the decider rejects the command (the reason goes to stderr).
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  refold command cart cart-1 '{\"type\":\"OpenCart\",\"data\":{\"cartId\":\"cart-1\",\"customerId\":\"c-1\",\"currency\":\"EUR\",\"channel\":\"web\",\"openedAt\":\"2024-01-01T00:00:00.000Z\"}}'")]
pub struct CommandArgs {
    /// The decider module.
    decider: String,
    /// The stream the command is for.
    stream: String,
    /// The command, as JSON: the command the decider reads, with an optional
    /// "metadata" object of your own keys (Refold's under "refold") kept on its events.
    command: String,
    /// The stream's partition.
    #[arg(long, default_value = refold::store::DEFAULT_PARTITION)]
    partition: String,
    /// The command's id: sending it again with the same id prints the first outcome
    /// and decides and appends nothing (another command under that id is refused).
    #[arg(long)]
    id: Option<String>,
}

pub fn run(store: &StoreUrl, args: &CommandArgs) -> anyhow::Result<ExitCode> {
    serde_json::from_str::<serde::de::IgnoredAny>(&args.command)
        .context("the command is not valid JSON")?;
    let engine = open_engine(store, false)?;
    let mut request = CommandRequest::new(args.stream.as_str(), args.command.as_str())
        .in_partition(args.partition.as_str());
    if let Some(id) = &args.id {
        request = request.with_id(id.as_str());
    }
    let handled = engine.commands().handle_request(&args.decider, request);
    match crate::block_on(handled) {
        Ok(outcome) => {
            print_json(&OutcomeView::of(&outcome))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Rejected { module, message }) => {
            eprintln!("rejected by {module}: {message}");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}
