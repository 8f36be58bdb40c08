//! `refold export`: write the whole global log as JSON lines, every field of every
//! event, for `refold import` to read back into another store.

use crate::{open_engine, print_json};
use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use refold::store::LogFilter;
use refold::store::StoreUrl;
use refold::views::StoredEventView;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Events read from the log at a time, so memory stays bounded however long it is.
const PAGE: u64 = 1000;

/// Write the whole global log, in order, as JSON lines: one event per line with every
/// field in its stored form, `{"position", "partition", "stream", "streamPosition",
/// "id", "type", "data", "metadata", "recordedAt"}`, data and metadata inline as JSON
/// exactly as stored.
///
/// The log is exported up to its head when the export starts; events appended while it
/// runs are left for the next one. `refold import` reads the file back into another
/// store (or resumes an import cut short). Projections are not run. With `--out`, the
/// file is replaced only once the export is complete, and a summary line is printed
/// (`{"exported", "head"}`); a progress bar shows on a terminal.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold export --out backup.jsonl
  refold --db old.db export | refold --db new.db import -")]
pub struct ExportArgs {
    /// The file to write (default: stdout).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(store: &StoreUrl, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    if let StoreUrl::Sqlite(db) = store
        && !db.exists()
    {
        bail!(
            "there is no database at {}: name the store to export with --db or --store",
            db.display()
        );
    }
    let engine = open_engine(store, false)?;
    let store = engine.store();
    let head = store.head();
    let progress = ProgressBar::new(head).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events exported ({per_sec}, {eta})")
            .expect("a valid template"),
    );
    let write = |out: &mut dyn Write| -> anyhow::Result<u64> {
        let (mut after, mut exported) = (0, 0);
        while after < head {
            let limit = usize::try_from(PAGE.min(head - after)).unwrap_or(usize::MAX);
            let page = crate::block_on(store.read_log(after, &LogFilter::default(), limit))
                .context("cannot read the log")?;
            let Some(last) = page.last().map(|event| event.global_position) else {
                break;
            };
            for event in page.iter().filter(|event| event.global_position <= head) {
                serde_json::to_writer(&mut *out, &StoredEventView::of(event)).with_context(
                    || {
                        format!(
                            "cannot write the event at global position {}",
                            event.global_position
                        )
                    },
                )?;
                out.write_all(b"\n").context("cannot write the export")?;
                exported += 1;
            }
            after = last;
            progress.set_position(after.min(head));
        }
        out.flush().context("cannot write the export")?;
        Ok(exported)
    };
    let exported = match &args.out {
        None => write(&mut BufWriter::new(std::io::stdout().lock()))?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let file = new_file_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            let mut out = BufWriter::new(file);
            let exported = write(&mut out)?;
            let file = out
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.as_file()
                .sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            exported
        }
    };
    progress.finish_and_clear();
    if args.out.is_some() {
        print_json(&serde_json::json!({ "exported": exported, "head": head }))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A temporary file in `dir`, to be renamed once complete, with the permissions of a
/// file created the ordinary way (read-write for all, less the umask) rather than a
/// temporary file's owner-only ones.
fn new_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".refold-export-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}
