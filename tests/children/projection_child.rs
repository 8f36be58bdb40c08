//! A child process for the projections' exactly-once test: opens the store at the
//! given path, loads the cart-summary component from the given file, prints `started`,
//! catches the projection up to the log's head and prints `done <checkpoint>`.
//!
//! The test kills it with SIGKILL mid-catch-up and starts it again. To let the test
//! choose the kill points, the child's pace is set on stdin: before each batch the
//! runner applies, the child takes one line from stdin, then prints
//! `apply <first position> <last position>`. The runner applies its batches in order
//! and commits each before it reads the next, so the line of batch k means batches
//! before k are committed; and a child given n lines applies at most n batches. Once
//! stdin ends (e.g. it is `/dev/null`), the child runs free.
//!
//! Usage: `projection-child <store.db> <cart_summary.wasm> <compile-cache-dir>`

use refold::Result;
use refold::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine, ProjectionLogic};
use refold::runtime::{Documents, Module, Runtime, RuntimeConfig};
use refold::store::sqlite::{SqliteStore, StoreConfig};
use refold::store::{BuiltBy, LogFilter, RecordedEvent};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The deployed module, applying a batch only once stdin gives a line for it.
struct Paced {
    module: Arc<Module>,
    free: AtomicBool,
}

impl Paced {
    /// Wait for the next line of stdin, unless stdin has ended.
    fn take_turn(&self) {
        if self.free.load(Ordering::SeqCst) {
            return;
        }
        let mut line = String::new();
        if !matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0) {
            self.free.store(true, Ordering::SeqCst);
        }
    }
}

impl ProjectionLogic for Paced {
    fn name(&self) -> &str {
        ProjectionLogic::name(&*self.module)
    }

    fn built_by(&self) -> BuiltBy {
        ProjectionLogic::built_by(&*self.module)
    }

    fn filter(&self) -> Result<LogFilter> {
        ProjectionLogic::filter(&*self.module)
    }

    fn apply(&self, events: &[RecordedEvent], documents: &mut Box<dyn Documents>) -> Result<()> {
        self.take_turn();
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            let mut out = std::io::stdout().lock();
            // The test may stop reading; the child goes on regardless.
            let _ = writeln!(
                out,
                "apply {} {}",
                first.global_position, last.global_position
            )
            .and_then(|()| out.flush());
        }
        ProjectionLogic::apply(&*self.module, events, documents)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let usage = "usage: projection-child <store.db> <cart_summary.wasm> <compile-cache-dir>";
    let (Some(database), Some(wasm), Some(cache)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!(usage);
    };
    let storage = SqliteStore::open_storage(StoreConfig::new(database))?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        cache_dir: Some(cache),
        ..RuntimeConfig::default()
    })?);
    let module = runtime.deploy(runtime.load_file("cart-summary", &wasm)?);
    // A short lease: the child started after a kill takes over from the killed one
    // (whose lease nobody released) within a second.
    let config = ProjectionConfig {
        lease_ttl: Duration::from_secs(1),
        ..ProjectionConfig::default()
    };
    let engine = ProjectionEngine::new(&storage, runtime, config);
    // Before the deploy starts the runner, so that `started` is the first line.
    println!("started");
    std::io::stdout().flush()?;
    let paced = Arc::new(Paced {
        module,
        free: AtomicBool::new(false),
    });
    engine.deploy_logic(paced, FailurePolicy::Stop).await?;
    let checkpoint = engine
        .wait_for(
            "cart-summary",
            storage.events.head(),
            Duration::from_secs(600),
        )
        .await?;
    println!("done {checkpoint}");
    Ok(())
}
