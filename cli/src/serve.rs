//! `refold serve`: the engine behind its HTTP API until SIGTERM or Ctrl-C.

use crate::Durability;
use anyhow::Context;
use clap::Args;
use refold::engine::EngineConfig;
use refold::http::HttpConfig;
use refold::projections::FailurePolicy;
use refold::runtime::content_hash;
use refold::store::StoreUrl;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Start the engine on the database and serve its HTTP API.
///
/// Modules deployed before (through `deploy` or the API) come back at their versions
/// and every projection resumes from its checkpoint. `--deploy` deploys a file at
/// start unless the same bytes are already the current version of that name. SIGTERM
/// or Ctrl-C stops it gracefully: requests in flight finish, and every acknowledged
/// write is durable.
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
    /// Keep the streams of CATEGORY folded by DECIDER as a read model (repeatable).
    #[arg(long = "snapshot", value_name = "DECIDER:CATEGORY", value_parser = decider_and_category)]
    snapshot: Vec<(String, String)>,
    /// Require this token (`Authorization: Bearer <token>`) for writes and deploys.
    #[arg(long, env = "REFOLD_TOKEN")]
    token: Option<String>,
    /// Commit durability: `full` survives power loss, `normal` a process crash.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    durability: Durability,
}

fn name_and_file(text: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=FILE (e.g. cart=cart.wasm)"))?;
    Ok((name.to_owned(), PathBuf::from(file)))
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
        let mut config = EngineConfig::for_store(store.clone());
        config.synchronous = args.durability.into();
        refold::engine::Engine::open(config)
            .await
            .with_context(|| format!("cannot open the database {store}"))?
    };
    for (name, file) in &args.deploy {
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read module file {}", file.display()))?;
        let current = engine.runtime().module(name).ok();
        if current.is_some_and(|m| m.info().hash == content_hash(&bytes)) {
            tracing::info!(module = %name, "already deployed at its current version");
            continue;
        }
        let info = engine
            .deploy(name, &bytes, FailurePolicy::Stop)
            .await
            .with_context(|| format!("cannot deploy {} as '{name}'", file.display()))?;
        tracing::info!(module = %name, version = info.version, "deployed");
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
    let http = HttpConfig {
        token: args.token,
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
