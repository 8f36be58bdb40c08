//! H1, H1-32, H4 and H4-32: appends and commands over the HTTP API, each beside the
//! same requests made in-process through the library in the same job.
//!
//! A `refold serve` runs inside the job's process (the library's `http::serve` on a
//! loopback port) and clients send requests on keep-alive connections, one thread
//! per connection, for a fixed time: H1 appends one `ItemAdded` event per request to
//! distinct streams with expected version `any`; H4 sends `OpenCart` commands to
//! distinct carts. Then the same loop runs against the engine directly, with one task
//! per client. The ratio of the two is what the HTTP layer costs (body checks, JSON,
//! the request path), since the store and the guest work are the same. Clients and
//! server share the machine's cores, as a load generator on the same host does.

use super::{Job, Metric, Recorder, Result, System, Work, check, per_second};
use refold::engine::{Engine, EngineConfig};
use refold::projections::FailurePolicy;
use refold::store::{AppendRequest, DEFAULT_PARTITION, EventData, ExpectedVersion, Storage};
use refold_workload as workload;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections of H1-32 and H4-32.
const MANY_CLIENTS: u64 = 32;

/// The requests of the HTTP workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One `ItemAdded` event appended to a stream of its own.
    Append,
    /// An `OpenCart` command to a cart of its own.
    Command,
}

impl Shape {
    fn metric(self) -> Metric {
        match self {
            Shape::Append => Metric::EventsPerS,
            Shape::Command => Metric::CommandsPerS,
        }
    }

    /// The `n`th request of client `client` of `clients`: its stream, and the event's
    /// data (appends) or the command (commands) as JSON.
    fn request(self, client: u64, clients: u64, n: u64) -> (String, String) {
        let cart = client + n * clients;
        let mut events = workload::cart_events(cart, 1);
        let json = match self {
            Shape::Append => events.swap_remove(1).1,
            Shape::Command => format!(r#"{{"type":"OpenCart","data":{}}}"#, events[0].1),
        };
        (format!("cart-{cart}"), json)
    }

    /// The HTTP request for `stream` and `json` (see [`request`](Self::request)): its
    /// path and body.
    fn http(self, stream: &str, json: String) -> (String, String) {
        match self {
            Shape::Append => (
                format!("/streams/{stream}"),
                format!(
                    r#"{{"expectedVersion":"any","events":[{{"type":"ItemAdded","data":{json}}}]}}"#
                ),
            ),
            Shape::Command => (format!("/commands/cart/{stream}"), json),
        }
    }
}

/// One HTTP job: its requests over HTTP and in-process, requests per second each.
pub(super) fn h(work: &Work<'_>, recorder: &mut Recorder, job: Job) -> Result<()> {
    let (shape, clients) = match job {
        Job::H1 => (Shape::Append, 1),
        Job::H1x32 => (Shape::Append, MANY_CLIENTS),
        Job::H4 => (Shape::Command, 1),
        _ => (Shape::Command, MANY_CLIENTS),
    };
    let duration = work.setup.sizes().http_run;

    let engine = Arc::new(open_engine(work, recorder, "http.db", shape)?);
    let done = over_http(&engine, shape, clients, duration)?;
    verify(job, &engine, done)?;
    recorder.figure(
        System::Refold,
        job.name(),
        shape.metric(),
        per_second(done, duration),
    );

    let engine = Arc::new(open_engine(work, recorder, "in-process.db", shape)?);
    let done = in_process(&engine, shape, clients, duration)?;
    verify(job, &engine, done)?;
    recorder.figure(
        System::InProcess,
        job.name(),
        shape.metric(),
        per_second(done, duration),
    );
    Ok(())
}

/// A fresh engine in the job's folder, with the cart decider deployed for commands.
fn open_engine(
    work: &Work<'_>,
    recorder: &mut Recorder,
    name: &str,
    shape: Shape,
) -> Result<Engine> {
    let setup = work.setup;
    let store = Arc::new(work.fresh_store(name)?);
    recorder.observe(&store);
    let mut config = EngineConfig::new(store.path());
    config.synchronous = setup.synchronous;
    config.runtime.cache_dir = Some(setup.shared.join("compiled"));
    let engine = crate::block_on(Engine::with_storage(Storage::of(store), config))?;
    if shape == Shape::Command {
        let bytes = std::fs::read(&setup.modules.cart).map_err(|source| super::BenchError::Io {
            path: setup.modules.cart.clone(),
            source,
        })?;
        crate::block_on(engine.deploy("cart", &bytes, FailurePolicy::Stop))?;
    }
    Ok(engine)
}

/// Serve `engine` on a loopback port and send `shape` requests from `clients`
/// connections for `duration`; how many were answered 2xx. Any other answer fails the
/// job.
fn over_http(engine: &Arc<Engine>, shape: Shape, clients: u64, duration: Duration) -> Result<u64> {
    let listener = crate::block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|source| io_error("a loopback port", source))?;
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|source| io_error("a loopback port", source))?
    );
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = crate::runtime().spawn(refold::http::serve(
        engine.clone(),
        listener,
        refold::http::HttpConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + duration;
    let answers: Vec<std::result::Result<u64, String>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..clients)
            .map(|client| {
                let base = &base;
                s.spawn(move || send_until(base, shape, client, clients, deadline))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("an HTTP client thread"))
            .collect()
    });
    let _ = stop_server.send(());
    crate::block_on(server)
        .expect("the HTTP server task")
        .map_err(super::BenchError::Engine)?;
    let mut done = 0;
    for answer in answers {
        done += answer.map_err(|problem| super::verify_error("HTTP", problem))?;
    }
    Ok(done)
}

/// One connection's loop: requests until `deadline`; how many were answered 2xx, or
/// the first other answer.
fn send_until(
    base: &str,
    shape: Shape,
    client: u64,
    clients: u64,
    deadline: Instant,
) -> std::result::Result<u64, String> {
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut n = 0;
    while Instant::now() < deadline {
        let (stream, json) = shape.request(client, clients, n);
        let (path, body) = shape.http(&stream, json);
        let url = format!("{base}{path}");
        let mut response = http
            .post(&url)
            .header("content-type", "application/json")
            .send(&body)
            .map_err(|e| format!("POST {url}: {e}"))?;
        if !response.status().is_success() {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(format!("POST {url}: {} {text}", response.status()));
        }
        // Read the body so the connection is reused.
        response
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("POST {url}: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// The same requests through the library, one task per client, for `duration`.
fn in_process(engine: &Arc<Engine>, shape: Shape, clients: u64, duration: Duration) -> Result<u64> {
    let deadline = Instant::now() + duration;
    let tasks = (0..clients).map(|client| async move {
        let mut n = 0;
        while Instant::now() < deadline {
            let (stream, json) = shape.request(client, clients, n);
            match shape {
                Shape::Append => {
                    engine
                        .store()
                        .append(AppendRequest::new(
                            stream,
                            ExpectedVersion::Any,
                            vec![EventData::new("ItemAdded", json)],
                        ))
                        .await?;
                }
                Shape::Command => {
                    engine
                        .commands()
                        .handle("cart", DEFAULT_PARTITION, &stream, &json)
                        .await?;
                }
            }
            n += 1;
        }
        Ok::<_, refold::Error>(n)
    });
    let counts = crate::block_on(futures::future::try_join_all(tasks))?;
    Ok(counts.into_iter().sum())
}

/// The store holds one event per request answered.
fn verify(job: Job, engine: &Engine, done: u64) -> Result<()> {
    let head = engine.store().head();
    check(head == done, job.name(), || {
        format!("{head} events stored for {done} requests answered")
    })
}

fn io_error(what: &str, source: std::io::Error) -> super::BenchError {
    super::BenchError::Io {
        path: what.into(),
        source,
    }
}
