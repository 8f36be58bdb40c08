//! A child process for the projections' exactly-once test: opens the store at the
//! given path, deploys the cart-summary component from the given file, prints
//! `started`, catches the projection up to the log's head and prints `done <checkpoint>`.
//! The test kills it with SIGKILL at random moments and starts it again.
//!
//! Usage: `projection-child <store.db> <cart_summary.wasm> <compile-cache-dir>`

use refold::projections::{FailurePolicy, ProjectionConfig, ProjectionEngine};
use refold::runtime::{Runtime, RuntimeConfig};
use refold::store::sqlite::{SqliteStore, StoreConfig};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    let engine = ProjectionEngine::new(&storage, runtime, ProjectionConfig::default());
    engine.deploy(module, FailurePolicy::Stop).await?;
    println!("started");
    std::io::stdout().flush()?;
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
