//! `refold append`: append events to a stream, one or many (bulk import from JSON lines).

use crate::open_engine;
use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use refold::store::StoreUrl;
use refold::store::{AppendRequest, EventData, ExpectedVersion};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Append events to a stream.
///
/// Events are JSON lines, one event per line: `{"type": ..., "data": {...}}` with an
/// optional `metadata` object, `id` (UUID) and `tags` (a list of strings, for queries
/// and append conditions: see docs/dcb.md). They are read from FILE, or from stdin
/// when FILE is `-` or absent, and appended in batches; each batch after the first
/// expects the version the previous one left, so the import is all in order. Prints the
/// outcome as JSON; a progress bar shows on a terminal.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  echo '{\"type\":\"CartOpened\",\"data\":{\"cartId\":\"cart-1\"}}' | refold append cart-1 --expected no-stream
  refold append cart-1 events.jsonl --batch 500")]
pub struct AppendArgs {
    /// The stream to append to.
    stream: String,
    /// JSON-lines file of events (`-` or absent: stdin).
    file: Option<PathBuf>,
    /// The stream's version the first batch expects: any, no-stream, exists, or a number.
    #[arg(long, default_value = "any")]
    expected: ExpectedVersion,
    /// The stream's partition.
    #[arg(long, default_value = refold::store::DEFAULT_PARTITION)]
    partition: String,
    /// Events per append.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(rename = "type")]
    event_type: String,
    data: Box<RawValue>,
    metadata: Option<Box<RawValue>>,
    id: Option<uuid::Uuid>,
    #[serde(default)]
    tags: Vec<String>,
}

pub fn run(store: &StoreUrl, args: &AppendArgs) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn BufRead> = match args.file.as_deref() {
        None => Box::new(std::io::stdin().lock()),
        Some(path) if path == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
    };
    let engine = open_engine(store, false)?;
    let store = engine.store();
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {pos} events appended ({per_sec})")
            .expect("a valid template"),
    );
    let mut expected = args.expected;
    let mut batch = Vec::new();
    let mut outcome = None;
    let mut appended = 0u64;
    let mut flush =
        |batch: &mut Vec<EventData>, expected: &mut ExpectedVersion| -> anyhow::Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let request = AppendRequest::new(args.stream.clone(), *expected, std::mem::take(batch))
                .in_partition(args.partition.clone());
            let count = request.events.len() as u64;
            let done = crate::block_on(store.append(request)).context("the append was refused")?;
            *expected = ExpectedVersion::Exact(done.stream_version);
            appended += count;
            progress.inc(count);
            outcome = Some(done);
            Ok(())
        };
    for (number, line) in reader.lines().enumerate() {
        let line = line.context("cannot read the events")?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Line = serde_json::from_str(&line).with_context(|| {
            format!(
                "line {} is not an event {{\"type\": ..., \"data\": {{...}}}}",
                number + 1
            )
        })?;
        let mut data = EventData::new(event.event_type, event.data.get()).with_tags(event.tags);
        if let Some(metadata) = event.metadata {
            data = data.with_metadata(metadata.get());
        }
        if let Some(id) = event.id {
            data = data.with_id(id);
        }
        batch.push(data);
        if batch.len() as u64 >= args.batch {
            flush(&mut batch, &mut expected)?;
        }
    }
    flush(&mut batch, &mut expected)?;
    progress.finish_and_clear();
    let Some(outcome) = outcome else {
        bail!(
            "no events to append: give JSON lines like {{\"type\": \"CartOpened\", \"data\": {{...}}}}"
        );
    };
    crate::print_json(&serde_json::json!({
        "appended": appended,
        "streamVersion": outcome.stream_version,
        "lastPosition": outcome.last_position,
    }))?;
    Ok(ExitCode::SUCCESS)
}
