//! `refold read`: print a stream, or the global log, as JSON lines.

use crate::{open_engine, print_json};
use anyhow::bail;
use clap::Args;
use refold::store::StoreUrl;
use refold::store::{Direction, LogFilter};
use refold::views::EventView;

use std::process::ExitCode;

/// Print the events of a stream, or of the global log with `--log`, one JSON object
/// per line (data and metadata inline).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold read cart-1
  refold read cart-1 --backward --limit 1
  refold read --log --after 100 --types CartOpened,CartConfirmed
  refold read cart-1 --raw")]
pub struct ReadArgs {
    /// The stream to read (omit with --log).
    stream: Option<String>,
    /// Read the global log instead of a stream.
    #[arg(long, conflicts_with = "stream")]
    log: bool,
    /// Stream: the first position to print (default: the start, or the end with --backward).
    #[arg(long, conflicts_with = "log")]
    from: Option<u64>,
    /// Stream: newest first.
    #[arg(long, conflicts_with = "log")]
    backward: bool,
    /// Log: print events after this global position.
    #[arg(long, default_value_t = 0, requires = "log")]
    after: u64,
    /// Log: only these event types (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "log")]
    types: Vec<String>,
    /// Log: only streams of this category (the part before the first '-').
    #[arg(long, requires = "log")]
    category: Option<String>,
    /// The partition (stream reads, and log reads limited to one partition).
    #[arg(long)]
    partition: Option<String>,
    /// The most events to print.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Print the events as stored, not upcast by the deployed upcasters.
    #[arg(long)]
    raw: bool,
}

pub fn run(store: &StoreUrl, args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(store, false)?;
    let events = match (&args.stream, args.log) {
        (Some(stream), false) => {
            let partition = args
                .partition
                .as_deref()
                .unwrap_or(refold::store::DEFAULT_PARTITION);
            let (direction, start) = if args.backward {
                (Direction::Backward, u64::MAX)
            } else {
                (Direction::Forward, 1)
            };
            crate::block_on(engine.read_stream(
                partition,
                stream,
                args.from.unwrap_or(start),
                direction,
                args.limit,
                args.raw,
            ))?
        }
        (None, true) => {
            let filter = LogFilter {
                partition: args.partition.clone(),
                event_types: args.types.clone(),
                category: args.category.clone(),
            };
            crate::block_on(engine.read_log(args.after, &filter, args.limit, args.raw))?
        }
        _ => bail!("name a stream to read, or pass --log to read the global log"),
    };
    for event in &events {
        print_json(&EventView::of(event))?;
    }
    Ok(ExitCode::SUCCESS)
}
