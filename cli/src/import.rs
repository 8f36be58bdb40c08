//! `refold import`: write the events of a `refold export` file into a store, exactly as
//! exported, resuming where an earlier import of the same file stopped.

use crate::{open_engine, print_json};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use refold::store::StoreUrl;
use refold::store::{EventStore, ImportOutcome, RecordedEvent};
use refold::views::StoredEventBody;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The most bytes of lines held for one import call, whatever `--batch` says.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Import the events of a file written by `refold export`, exactly as exported: global
/// and stream positions, ids, types, data, metadata and recorded-at times.
///
/// Lines are imported in batches, each one transaction. Events stored already at their
/// position (the same id, stream and stream position) are skipped, so importing a file
/// again after an import was cut short resumes it. Every other event must continue the
/// store's log: the next global position after its head, the next position of its
/// stream. Anything else is refused (exit code 2) with the batch that holds it, so a
/// refused file writes nothing when the first batch is refused. Projections are not
/// run. Prints `{"imported", "skipped", "head"}` at the end; a progress bar shows on
/// a terminal.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold import backup.jsonl --db copy.db
  refold --db old.db export | refold --db new.db import -")]
pub struct ImportArgs {
    /// The JSON-lines file `refold export` wrote (`-`: stdin).
    file: PathBuf,
    /// Events per import call (each one transaction).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch: u64,
}

/// What the import has done so far, and how far it read.
struct Progress {
    done: ImportOutcome,
    bar: ProgressBar,
    /// Bytes of the file read.
    bytes: u64,
}

pub fn run(store: &StoreUrl, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let (mut reader, length): (Box<dyn BufRead>, Option<u64>) = if args.file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let path = &args.file;
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let length = file.metadata().ok().map(|m| m.len());
        (Box::new(std::io::BufReader::new(file)), length)
    };
    let engine = open_engine(store, false)?;
    let store = engine.store();
    let bar = match length {
        Some(length) => ProgressBar::new(length).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} read, {msg} ({bytes_per_sec}, {eta})",
            )
            .expect("a valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} read, {msg} ({bytes_per_sec})")
                .expect("a valid template"),
        ),
    };
    let mut progress = Progress {
        done: ImportOutcome {
            imported: 0,
            skipped: 0,
            head: store.head(),
        },
        bar,
        bytes: 0,
    };
    let mut batch = Vec::new();
    let (mut batch_bytes, mut first_line) = (0, 1);
    let (mut line, mut number) = (String::new(), 0u64);
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read line {} of the events", number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        progress.bytes += read as u64;
        if line.trim().is_empty() {
            continue;
        }
        let event: StoredEventBody = serde_json::from_str(&line).with_context(|| {
            format!(
                "line {number} is not an exported event {{\"position\": ..., \"partition\": ..., \
                 \"stream\": ..., \"streamPosition\": ..., \"id\": ..., \"type\": ..., \
                 \"data\": {{...}}, \"metadata\": {{...}}, \"recordedAt\": ...}}"
            )
        })?;
        if batch.is_empty() {
            first_line = number;
        }
        batch.push(event.into_event());
        batch_bytes += read;
        if batch.len() as u64 >= args.batch || batch_bytes >= BATCH_BYTES {
            import(&**store, &mut batch, (first_line, number), &mut progress)?;
            batch_bytes = 0;
        }
    }
    import(&**store, &mut batch, (first_line, number), &mut progress)?;
    progress.bar.finish_and_clear();
    print_json(&progress.done)?;
    Ok(ExitCode::SUCCESS)
}

/// Import `batch` (the events of `lines`, first and last) in one call and empty it.
fn import(
    store: &dyn EventStore,
    batch: &mut Vec<RecordedEvent>,
    lines: (u64, u64),
    progress: &mut Progress,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcome = crate::block_on(store.import(std::mem::take(batch))).with_context(|| {
        let (first, last) = lines;
        let done = &progress.done;
        if done.imported == 0 {
            format!(
                "the import of lines {first}-{last} was refused; nothing of the file was written"
            )
        } else {
            format!(
                "the import of lines {first}-{last} was refused, after {} events of the lines \
                 before them were written (the store's log ends at {}): fix the file and import \
                 it again to go on from there",
                done.imported, done.head
            )
        }
    })?;
    let done = &mut progress.done;
    done.imported += outcome.imported;
    done.skipped += outcome.skipped;
    done.head = outcome.head;
    progress.bar.set_position(progress.bytes);
    progress.bar.set_message(format!(
        "{} events imported, {} skipped",
        done.imported, done.skipped
    ));
    Ok(())
}
