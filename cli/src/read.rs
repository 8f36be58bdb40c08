//! `refold read`: print a stream, or the global log, as JSON lines.

use crate::{open_engine, print_json};
use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use refold::store::StoreUrl;
use refold::store::{Direction, LogFilter, Query, QueryItem};
use refold::views::EventView;

use std::process::ExitCode;

/// Print the events of a stream, or of the global log with `--log` (or a query), one
/// JSON object per line (data and metadata inline, tags when an event has any).
///
/// A query (`--query`, or `--tag` with `--types`) reads the events of the global log
/// it matches across every stream: `{"items": [{"types": [..], "tags": [..]}]}`, items
/// combined with OR, an item matching an event of one of its types carrying all its
/// tags (see docs/dcb.md).
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("log-read").args(["log", "query", "tag"]).multiple(true)),
    after_help = "\
Examples:
  refold read cart-1
  refold read cart-1 --backward --limit 1
  refold read --log --after 100 --types CartOpened,CartConfirmed
  refold read --tag course:c1 --types StudentSubscribed
  refold read cart-1 --raw
  refold read --query '{\"items\": [{\"tags\": [\"course:c1\"]}, {\"tags\": [\"student:s7\"]}]}'"
)]
pub struct ReadArgs {
    /// The stream to read (omit with --log, --query or --tag).
    stream: Option<String>,
    /// Read the global log instead of a stream.
    #[arg(long, conflicts_with = "stream")]
    log: bool,
    /// Log: only the events this query matches (JSON, the DCB shape).
    #[arg(long, conflicts_with_all = ["stream", "tag"])]
    query: Option<String>,
    /// Log: only events carrying this tag (repeat it, or separate with commas, for
    /// events carrying all of them); with --types, only events of those types.
    #[arg(long, value_delimiter = ',', conflicts_with = "stream")]
    tag: Vec<String>,
    /// Stream: the first position to print (default: the start, or the end with --backward).
    #[arg(long, conflicts_with = "log")]
    from: Option<u64>,
    /// Stream: newest first.
    #[arg(long, conflicts_with = "log")]
    backward: bool,
    /// Log: print events after this global position.
    #[arg(long, default_value_t = 0, requires = "log-read")]
    after: u64,
    /// Log: only these event types (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        requires = "log-read",
        conflicts_with = "query"
    )]
    types: Vec<String>,
    /// Log: only streams of this category (the part before the first '-').
    #[arg(long, requires = "log-read")]
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
    let log = args.log || args.query.is_some() || !args.tag.is_empty();
    let events = match (&args.stream, log) {
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
            let filter = log_filter(args)?;
            crate::block_on(engine.read_log(args.after, &filter, args.limit, args.raw))?
        }
        _ => bail!(
            "name a stream to read, or pass --log to read the global log (--query or --tag to read what a query matches)"
        ),
    };
    for event in &events {
        print_json(&EventView::of(event))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The log filter the options ask for: `--query`, or `--tag` (with `--types`) as a
/// query of one item; `--types` alone filters by type.
fn log_filter(args: &ReadArgs) -> anyhow::Result<LogFilter> {
    let (event_types, query) = match (&args.query, args.tag.as_slice()) {
        (Some(json), _) => {
            let query: Query = serde_json::from_str(json).with_context(|| {
                format!(
                    "--query '{json}' is not a query like {{\"items\": [{{\"types\": [..], \"tags\": [..]}}]}}"
                )
            })?;
            (Vec::new(), Some(query))
        }
        (None, []) => (args.types.clone(), None),
        (None, tags) => (
            Vec::new(),
            Some(Query::item(
                QueryItem::tags(tags.iter().cloned()).with_types(args.types.iter().cloned()),
            )),
        ),
    };
    Ok(LogFilter {
        partition: args.partition.clone(),
        event_types,
        category: args.category.clone(),
        query,
    })
}
