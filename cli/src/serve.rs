//! `refold serve`: the engine behind its HTTP API until SIGTERM or Ctrl-C.

use crate::Durability;
use anyhow::Context;
use clap::Args;
use refold::engine::{DeployOptions, EngineConfig, StartDeploy};
use refold::http::HttpConfig;
use refold::projections::{FailurePolicy, ProjectionConfig};
use refold::runtime::{PoolConfig, RuntimeConfig};
use refold::store::{AppendLimits, StoreUrl};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Start the engine on the database and serve its HTTP API.
///
/// Modules deployed before (through `deploy` or the API) come back at their versions
/// and every projection resumes from its checkpoint. `--deploy` deploys a file at
/// start unless the same bytes are already the current version of that name, or are
/// an older version's while a newer one is current (a hot swap since the server was
/// first started with the file: the newer one is kept, and the log says so; `--force`
/// deploys the file anyway). Deploys recorded by another process on the same database
/// (`refold deploy` beside the server) go live here within `--deploy-check` of being
/// made. SIGTERM or Ctrl-C stops it gracefully: requests in flight finish, and every
/// acknowledged write is durable.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  refold serve --deploy cart=target/wasm32-wasip2/release/cart.wasm \\
               --deploy cart-summary=target/wasm32-wasip2/release/cart_summary.wasm
  refold serve --listen 0.0.0.0:4400 --token \"$SECRET\" --snapshot cart:cart")]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4400")]
    listen: SocketAddr,
    /// Deploy a module at start, as NAME=FILE.wasm (repeatable).
    #[arg(long = "deploy", value_name = "NAME=FILE", value_parser = name_and_file)]
    deploy: Vec<(String, PathBuf)>,
    /// Deploy each `--deploy` file even when it holds the bytes of an older version
    /// than the name's current one (moving the name back to them, as a new version).
    #[arg(long, requires = "deploy")]
    force: bool,
    /// Keep the streams of CATEGORY folded by DECIDER as a read model (repeatable).
    #[arg(long = "snapshot", value_name = "DECIDER:CATEGORY", value_parser = decider_and_category)]
    snapshot: Vec<(String, String)>,
    /// Require this token (`Authorization: Bearer <token>`) for writes and deploys.
    #[arg(long, env = "REFOLD_TOKEN")]
    token: Option<String>,
    /// Commit durability: `full` survives power loss, `normal` a process crash.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    durability: Durability,
    /// How often to look for deploys made by other processes on the same database.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
    deploy_check: std::time::Duration,
    /// How long a projection's lease lasts unrenewed: with several servers on one
    /// database, how soon another takes over a projection when its runner dies.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lease_ttl)]
    lease_ttl: std::time::Duration,
    #[command(flatten)]
    limits: LimitArgs,
}

/// The sandbox's limits, each with its library default (README, "Sandbox").
#[derive(Debug, Args)]
struct LimitArgs {
    /// Events one append may carry, and one decide may return.
    #[arg(long, value_name = "N", default_value_t = AppendLimits::default().max_events)]
    max_events_per_append: usize,
    /// Bytes (type + data + metadata) one append may carry, and one decide may return
    /// (a number, or with KiB, MiB or GiB).
    #[arg(long, value_name = "SIZE", default_value_t = AppendLimits::default().max_bytes, value_parser = byte_size)]
    max_append_bytes: usize,
    /// Linear memory one guest instance may use; also what one guest call may copy
    /// out.
    #[arg(long, value_name = "SIZE", default_value_t = RuntimeConfig::default().memory_limit, value_parser = byte_size)]
    guest_memory: usize,
    /// CPU time one guest call may take (e.g. `1s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value_t = RuntimeConfig::default().call_timeout.into())]
    guest_deadline: humantime::Duration,
    /// An instance whose memory grew past this is dropped after its call, not kept warm.
    #[arg(long, value_name = "SIZE", default_value_t = PoolConfig::default().instance_memory, value_parser = byte_size)]
    idle_instance_memory: usize,
    /// Memory the idle instances of one module version may keep together.
    #[arg(long, value_name = "SIZE", default_value_t = PoolConfig::default().memory, value_parser = byte_size)]
    idle_pool_memory: usize,
    /// The largest document a projection may put.
    #[arg(long, value_name = "SIZE", default_value_t = ProjectionConfig::default().max_document_bytes, value_parser = byte_size)]
    max_document_bytes: usize,
    /// Documents a projection batch holds before it commits (one event per
    /// transaction past them).
    #[arg(long, value_name = "SIZE", default_value_t = ProjectionConfig::default().max_batch_document_bytes, value_parser = byte_size)]
    max_batch_document_bytes: usize,
    /// The size of documents a page of a read-model list ends at.
    #[arg(long, value_name = "SIZE", default_value_t = HttpConfig::default().page_bytes, value_parser = byte_size)]
    max_page_bytes: usize,
}

impl LimitArgs {
    /// The engine's settings for `store` under these limits.
    fn engine_config(&self, store: &StoreUrl) -> EngineConfig {
        let mut config = EngineConfig::for_store(store.clone()).with_append_limits(AppendLimits {
            max_events: self.max_events_per_append,
            max_bytes: self.max_append_bytes,
        });
        config.runtime.memory_limit = self.guest_memory;
        config.runtime.call_timeout = self.guest_deadline.into();
        config.runtime.pool.instance_memory = self.idle_instance_memory;
        config.runtime.pool.memory = self.idle_pool_memory;
        config.projections.max_document_bytes = self.max_document_bytes;
        config.projections.max_batch_document_bytes = self.max_batch_document_bytes;
        config
    }
}

/// `4096`, `64KiB`, `16MiB`, `1GiB`: a size in bytes.
fn byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let shift = match unit.trim() {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => return Err(format!("'{other}' is not a unit: use KiB, MiB or GiB")),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("'{text}' is not a size (e.g. 4096, 64KiB, 16MiB)"))
}

fn name_and_file(text: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=FILE (e.g. cart=cart.wasm)"))?;
    Ok((name.to_owned(), PathBuf::from(file)))
}

fn lease_ttl(text: &str) -> Result<std::time::Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl < std::time::Duration::from_secs(1) {
        return Err(format!(
            "{text} is too short for a lease: at least 1s, so that renewing it (every third of it) never races its expiry"
        ));
    }
    Ok(ttl)
}

fn decider_and_category(text: &str) -> Result<(String, String), String> {
    let (decider, category) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not DECIDER:CATEGORY (e.g. cart:cart)"))?;
    Ok((decider.to_owned(), category.to_owned()))
}

/// Open, deploy what was asked, serve until a signal, then stop cleanly.
pub fn run(store: &StoreUrl, args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::block_on(serve(store, args))
}

async fn serve(store: &StoreUrl, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = {
        let mut config = args.limits.engine_config(store);
        config.synchronous = args.durability.into();
        config.projections.lease_ttl = args.lease_ttl;
        refold::engine::Engine::open(config)
            .await
            .with_context(|| format!("cannot open the database {store}"))?
    };
    for (name, file) in &args.deploy {
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read module file {}", file.display()))?;
        let done = engine
            .deploy_at_start(name, &bytes, DeployOptions::default(), args.force)
            .await
            .with_context(|| format!("cannot deploy {} as '{name}'", file.display()))?;
        match done {
            StartDeploy::Deployed(info) => {
                tracing::info!(module = %name, version = info.version, "deployed");
            }
            StartDeploy::Current { version } => {
                tracing::info!(module = %name, version, "already deployed at its current version");
            }
            StartDeploy::KeptNewer {
                version,
                file_version,
            } => tracing::warn!(
                module = %name,
                version,
                file_version,
                "kept version {version} of '{name}': {} holds the bytes of its older version {file_version}, and --deploy never moves a name back to older bytes; deploy it with --force, or roll back on purpose (refold rollback {name} --to {file_version})",
                file.display()
            ),
        }
    }
    for (decider, category) in &args.snapshot {
        engine
            .deploy_snapshot(decider, category, FailurePolicy::Stop)
            .await
            .with_context(|| {
                format!("cannot keep snapshots of '{category}' streams with '{decider}'")
            })?;
    }
    let engine = Arc::new(engine);
    let following = engine.follow_deploys(args.deploy_check);
    let http = HttpConfig {
        token: args.token,
        page_bytes: args.limits.max_page_bytes,
        ..HttpConfig::default()
    };
    let served = async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        println!("refold listening on http://{address} (database {store})");
        std::io::stdout().flush()?;
        refold::http::serve(engine.clone(), listener, http, shutdown_signal()).await?;
        anyhow::Ok(())
    }
    .await;
    following.abort();
    engine.shutdown();
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
