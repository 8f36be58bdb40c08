//! Several `refold serve` nodes on one PostgreSQL schema, as real processes: HTTP
//! clients spread over three nodes while one is SIGKILLed and restarted lose no
//! acknowledged command and duplicate none, and each projection runs on one node at a
//! time; a node paused (SIGSTOP) past its lease commits nothing for its projection once
//! it resumes (SIGCONT) after another node took over. PostgreSQL only: on SQLite the
//! nodes of one file are what `shared_file.rs` tests.

use crate::support::Backend;
use crate::support::server::{Answer, Db, Server, add_item, agent, get, open_cart, whole_log};
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease time to live the nodes run with: short, so that a takeover comes soon.
const LEASE_TTL: &str = "3s";

/// Items a client adds to a cart before it opens its next one.
const ITEMS_PER_CART: u64 = 10;

/// How long a client waits after a node failed it before it asks another node whether
/// the command landed: a commit the killed node had already sent the database is
/// processed by then, so the answer is final.
const SETTLE: Duration = Duration::from_millis(500);

/// A request's outcome: the answer, or the transport error (the node is gone).
fn send(http: &ureq::Agent, method: &str, url: &str, body: Option<&str>) -> Result<Answer, String> {
    let response = match body {
        Some(body) => http
            .post(url)
            .header("content-type", "application/json")
            .send(body),
        None => {
            assert_eq!(method, "GET");
            http.get(url).call()
        }
    };
    match response {
        Ok(response) => Ok(Answer::of(Ok(response))),
        Err(error) => Err(error.to_string()),
    }
}

/// The base URLs of the running nodes, by node number; a restarted node gets a new one.
type Nodes = Arc<Mutex<Vec<String>>>;

/// One command a client sent and saw land: its cart, the cart's version it made, and
/// the event's global position and id as the node reported them (`None` for a command
/// whose node died before it answered, found landed by reading the cart again).
#[derive(Debug, Clone)]
struct Landed {
    cart: String,
    stream_position: u64,
    sku: Option<String>,
    acknowledged: Option<(u64, String)>,
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    landed: Vec<Landed>,
    /// Requests a live node answered with something other than success.
    failed: Vec<String>,
    /// Transport errors: (the base URL asked, what failed, when).
    unreachable: Vec<(String, String, Instant)>,
}

/// Send cart commands round the nodes until `stop`: open a cart, add
/// [`ITEMS_PER_CART`] items, open the next. A transport error moves the client to the
/// next node, which it asks whether the command landed before sending it again.
fn client(id: usize, nodes: Nodes, stop: Arc<AtomicBool>) -> Seen {
    let http = agent();
    let mut seen = Seen::default();
    let mut node = id;
    let (mut cart_number, mut version) = (0, 0u64);
    let mut item = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let cart = format!("cart-c{id}-{cart_number}");
        let (body, sku) = if version == 0 {
            (open_cart(&cart), None)
        } else {
            item += 1;
            let sku = format!("sku-{id}-{item}");
            (add_item(&cart, &sku, item % 3 + 1), Some(sku))
        };
        // Send it until it is known to have landed.
        loop {
            let base = nodes.lock().unwrap()[node % 3].clone();
            let url = format!("{base}/commands/cart/{cart}");
            match send(&http, "POST", &url, Some(&body)) {
                Ok(answer) if answer.status == 200 => {
                    let event = &answer.json["events"][0];
                    assert_eq!(answer.json["streamVersion"], version + 1, "{answer:?}");
                    seen.landed.push(Landed {
                        cart: cart.clone(),
                        stream_position: version + 1,
                        sku: sku.clone(),
                        acknowledged: Some((
                            answer.json["position"].as_u64().expect("a position"),
                            event["id"].as_str().expect("an event id").to_owned(),
                        )),
                    });
                    break;
                }
                Ok(answer) => {
                    seen.failed.push(format!("{url}: {answer:?}"));
                    break;
                }
                Err(error) => {
                    seen.unreachable.push((base, error, Instant::now()));
                    node += 1;
                    std::thread::sleep(SETTLE);
                    // Did it land before the node died? Ask the next node (moving on
                    // again while that one cannot be reached either).
                    let after = loop {
                        let base = nodes.lock().unwrap()[node % 3].clone();
                        let url = format!("{base}/streams/{cart}?from={}", version + 1);
                        match send(&http, "GET", &url, None) {
                            Ok(answer) => break answer,
                            Err(error) => {
                                seen.unreachable.push((base, error, Instant::now()));
                                node += 1;
                            }
                        }
                    };
                    // A stream not yet opened has no version.
                    let stored = after.ok()["version"].as_u64().unwrap_or(0);
                    if stored > version {
                        assert_eq!(stored, version + 1, "one command is one event: {after:?}");
                        let event = &after.json["events"][0];
                        if let Some(sku) = &sku {
                            assert_eq!(&event["data"]["sku"], sku.as_str(), "{after:?}");
                        }
                        seen.landed.push(Landed {
                            cart: cart.clone(),
                            stream_position: version + 1,
                            sku: sku.clone(),
                            acknowledged: None,
                        });
                        break;
                    }
                }
            }
        }
        if seen.failed.is_empty() {
            version += 1;
        } else {
            return seen;
        }
        if version > ITEMS_PER_CART {
            (cart_number, version) = (cart_number + 1, 0);
        }
        node += 1;
    }
    seen
}

/// The cart summaries a fold of `log` gives, by cart: what the cart-summary projection
/// must hold.
fn summaries_of(log: &[Value]) -> BTreeMap<String, Value> {
    let mut summaries: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for event in log {
        let cart = event["stream"].as_str().unwrap().to_owned();
        match event["type"].as_str() {
            Some("CartOpened") => {
                summaries.insert(cart, (0, 0));
            }
            Some("ItemAdded") => {
                let data = &event["data"];
                let (quantity, price) = (
                    data["quantity"].as_u64().unwrap(),
                    data["unitPrice"].as_u64().unwrap(),
                );
                let summary = summaries.get_mut(&cart).expect("an opened cart");
                summary.0 += quantity;
                summary.1 += quantity * price;
            }
            other => panic!("no client sends what makes {other:?}"),
        }
    }
    summaries
        .into_iter()
        .map(|(cart, (items, total))| {
            let summary = serde_json::json!({
                "cartId": cart, "itemCount": items, "total": total, "status": "open",
            });
            (cart, summary)
        })
        .collect()
}

/// Every cart summary `base` serves, after waiting for the projection to pass `head`.
fn served_summaries(base: &str, head: u64) -> BTreeMap<String, Value> {
    let http = agent();
    let mut summaries = BTreeMap::new();
    let mut after = String::new();
    loop {
        let page = get(
            &http,
            &format!(
                "{base}/projections/cart-summary/cart_summary?wait_for={head}&timeout_ms=30000&limit=1000{after}"
            ),
        );
        let page = page.ok();
        for document in page["documents"].as_array().expect("documents") {
            let id = document["id"].as_str().unwrap().to_owned();
            summaries.insert(id, document["document"].clone());
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return summaries,
        }
    }
}

/// `GET /projections` of `base`: which lease owner the node is, and the status of its
/// cart-summary projection's active generation. `None` when it cannot be reached.
fn cart_summary_status(http: &ureq::Agent, base: &str) -> Option<(String, Value)> {
    let answer = send(http, "GET", &format!("{base}/projections"), None).ok()?;
    let body = answer.ok();
    let node = body["node"].as_str().expect("the node's name").to_owned();
    let status = body["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == "cart-summary")
        .expect("the cart-summary projection")["active"]
        .clone();
    Some((node, status))
}

/// Whether a status says this node works on the generation (it holds the lease).
fn running(status: &Value) -> bool {
    running_state(status["state"].as_str().unwrap_or_default())
}

/// The node name, state and lease token each node showed at one moment.
type Sample = Vec<(String, String, Option<u64>)>;

/// Sample `GET /projections` on every node until `stop`; fail at once if two nodes
/// say they run the cart-summary projection's generation at the same moment.
fn sampler(nodes: Nodes, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let http = agent();
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let bases = nodes.lock().unwrap().clone();
        let sample: Sample = bases
            .iter()
            .filter_map(|base| cart_summary_status(&http, base))
            .map(|(node, status)| {
                (
                    node,
                    status["state"].as_str().unwrap().to_owned(),
                    status["runner"]["token"].as_u64(),
                )
            })
            .collect();
        let runners: Vec<_> = sample
            .iter()
            .filter(|(_, state, _)| running_state(state))
            .collect();
        assert!(
            runners.len() <= 1,
            "two nodes ran the cart-summary projection at once: {sample:?}"
        );
        samples.push(sample);
        std::thread::sleep(Duration::from_millis(50));
    }
    samples
}

/// The node whose name is `owner`, by number.
fn node_named(http: &ureq::Agent, nodes: &[String], owner: &str) -> usize {
    nodes
        .iter()
        .position(|base| cart_summary_status(http, base).is_some_and(|(node, _)| node == owner))
        .unwrap_or_else(|| panic!("no node is {owner}"))
}

/// Wait until some node holds the cart-summary lease, and give its name and token.
fn current_runner(http: &ureq::Agent, base: &str) -> (String, u64) {
    let (_, status) = wait_until(
        PATIENCE,
        "a node to hold the cart-summary projection's lease",
        || cart_summary_status(http, base).expect("the node answers"),
        |(_, status)| status["runner"].is_object(),
    );
    let runner = &status["runner"];
    (
        runner["owner"].as_str().unwrap().to_owned(),
        runner["token"].as_u64().unwrap(),
    )
}

/// Check the log holds every landed command's event exactly once, with no gap in the
/// global order or in any stream, and nothing no client sent; the log's head.
fn check_log(log: &[Value], landed: &[Landed]) -> u64 {
    let positions: Vec<u64> = log
        .iter()
        .map(|e| e["globalPosition"].as_u64().unwrap())
        .collect();
    let contiguous: Vec<u64> = (1..=log.len() as u64).collect();
    assert!(positions == contiguous, "the global order has a gap");
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut skus: HashSet<(String, String)> = HashSet::new();
    for event in log {
        let stream = event["stream"].as_str().unwrap();
        let version = versions.entry(stream).or_default();
        *version += 1;
        assert_eq!(
            event["streamPosition"], *version,
            "a gap in {stream}: {event}"
        );
        if let Some(sku) = event["data"]["sku"].as_str() {
            assert!(
                skus.insert((stream.to_owned(), sku.to_owned())),
                "a command's event is stored twice: {event}"
            );
        }
    }
    let mut by_stream: HashMap<(&str, u64), &Landed> = HashMap::new();
    for command in landed {
        assert!(
            by_stream
                .insert((&command.cart, command.stream_position), command)
                .is_none(),
            "two commands made {}@{}",
            command.cart,
            command.stream_position
        );
        if let Some((position, id)) = &command.acknowledged {
            let event = &log[*position as usize - 1];
            assert_eq!(event["stream"], command.cart.as_str(), "{event}");
            assert_eq!(event["streamPosition"], command.stream_position, "{event}");
            assert_eq!(event["id"], id.as_str(), "{event}");
        }
    }
    for event in log {
        let key = (
            event["stream"].as_str().unwrap(),
            event["streamPosition"].as_u64().unwrap(),
        );
        let command = by_stream
            .get(&key)
            .unwrap_or_else(|| panic!("an event no client saw land: {event}"));
        assert_eq!(
            event["data"]["sku"].as_str(),
            command.sku.as_deref(),
            "{event}"
        );
    }
    log.len() as u64
}

#[test]
fn three_nodes_with_one_killed_and_restarted_lose_and_duplicate_no_command() {
    let db = Db::on(Backend::Postgres);
    let args = ["--lease-ttl", LEASE_TTL];
    let mut servers: Vec<Option<Server>> = (0..3).map(|_| Some(db.serve_cart(&args))).collect();
    let nodes: Nodes = Arc::new(Mutex::new(
        servers.iter().flatten().map(|s| s.base.clone()).collect(),
    ));
    let http = agent();
    let (owner, first_token) = current_runner(&http, &nodes.lock().unwrap()[0]);

    // Scaled down from the 20 s to 8 s of commands: the same steps happen
    // (takeover, restart), on a shared two-core machine in a debug build.
    let run = Duration::from_secs(8);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..6)
        .map(|id| {
            let (nodes, stop) = (nodes.clone(), stop.clone());
            std::thread::spawn(move || client(id, nodes, stop))
        })
        .collect();
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampling = {
        let (nodes, stop) = (nodes.clone(), stop_sampling.clone());
        std::thread::spawn(move || sampler(nodes, stop))
    };

    // Two and a half seconds in, the node running the projection is SIGKILLed.
    std::thread::sleep(Duration::from_millis(2500));
    let victim = node_named(&http, &nodes.lock().unwrap(), &owner);
    let killed_url = nodes.lock().unwrap()[victim].clone();
    let killed_at = Instant::now();
    servers[victim].take().unwrap().kill();
    let survivor = nodes.lock().unwrap()[(victim + 1) % 3].clone();
    let (new_owner, new_token) = wait_until(
        PATIENCE,
        "another node to take the cart-summary projection over",
        || current_runner(&http, &survivor),
        |(runner, _)| *runner != owner,
    );
    let took_over = killed_at.elapsed();
    println!(
        "{new_owner} took the projection over from {owner} {took_over:?} after it was killed (lease {LEASE_TTL}); token {first_token} -> {new_token}"
    );
    assert!(
        took_over < Duration::from_secs(10) + PATIENCE,
        "took over after {took_over:?}"
    );
    assert!(new_token > first_token, "{first_token} -> {new_token}");

    // Restarted two seconds after the kill at the earliest: it stands by.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(killed_at.elapsed()));
    let restarted = db.serve_cart(&args);
    nodes.lock().unwrap()[victim] = restarted.base.clone();
    let down = killed_at.elapsed();
    servers[victim] = Some(restarted);
    println!("node {victim} was down {down:?}");

    std::thread::sleep(run.saturating_sub(started.elapsed()));
    stop.store(true, Ordering::SeqCst);
    let seen: Vec<Seen> = clients
        .into_iter()
        .map(|c| c.join().expect("a client thread"))
        .collect();
    stop_sampling.store(true, Ordering::SeqCst);
    let samples = sampling.join().expect("the sampler");

    let failed: Vec<&String> = seen.iter().flat_map(|s| &s.failed).collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    let unreachable: Vec<_> = seen.iter().flat_map(|s| &s.unreachable).collect();
    for (base, error, at) in &unreachable {
        assert_eq!(
            base, &killed_url,
            "a node that was not killed could not be reached: {error}"
        );
        assert!(
            *at >= killed_at,
            "the node could not be reached before it was killed: {error}"
        );
    }
    let landed: Vec<Landed> = seen.iter().flat_map(|s| s.landed.clone()).collect();
    let unacknowledged = landed.iter().filter(|l| l.acknowledged.is_none()).count();

    let log = whole_log(&survivor);
    let head = check_log(&log, &landed);
    let expected = summaries_of(&log);
    for base in nodes.lock().unwrap().iter() {
        assert_eq!(
            served_summaries(base, head),
            expected,
            "the cart summaries {base} serves are not the fold of the log"
        );
    }

    // One runner at every sample (checked as sampled), and the lease's token never
    // went back.
    let tokens: Vec<u64> = samples.iter().flatten().filter_map(|s| s.2).collect();
    assert!(
        tokens.windows(2).all(|w| w[0] <= w[1]),
        "the lease token went back: {tokens:?}"
    );
    let most_runners = samples
        .iter()
        .map(|s| {
            s.iter()
                .filter(|(_, state, _)| running_state(state))
                .count()
        })
        .max()
        .unwrap_or(0);
    println!(
        "{} commands landed ({unacknowledged} of them found landed after their node died), \
         {} carts, {head} events in {:?}; {} requests met the killed node; \
         {} samples of the projection's status on every node, at most {most_runners} runner at once; \
         lease tokens {:?}..{:?}",
        landed.len(),
        expected.len(),
        started.elapsed(),
        unreachable.len(),
        samples.len(),
        tokens.first(),
        tokens.last(),
    );
    assert!(!unreachable.is_empty(), "the kill landed while clients ran");
    for server in servers.into_iter().flatten() {
        server.stop();
    }
}

/// Whether `state` is one of a node at work on the generation.
fn running_state(state: &str) -> bool {
    !matches!(state, "standby" | "stopped")
}

/// Send `count` cart commands to `base` (opening `cart` first when `open`); the global
/// position of the last.
fn commands(http: &ureq::Agent, base: &str, cart: &str, open: bool, count: u64) -> u64 {
    let mut position = 0;
    for n in 0..count {
        let body = if open && n == 0 {
            open_cart(cart)
        } else {
            add_item(cart, &format!("sku-{n}"), 1)
        };
        let answer = send(
            http,
            "POST",
            &format!("{base}/commands/cart/{cart}"),
            Some(&body),
        )
        .expect("the node answers");
        position = answer.ok()["position"].as_u64().expect("a position");
    }
    position
}

/// Send `signal` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[test]
fn a_node_paused_past_its_lease_commits_nothing_for_the_projection_once_it_resumes() {
    let db = Db::on(Backend::Postgres);
    let args = ["--lease-ttl", LEASE_TTL];
    let servers = [db.serve_cart(&args), db.serve_cart(&args)];
    let http = agent();
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let (owner, token) = current_runner(&http, &bases[0]);
    let paused = node_named(&http, &bases, &owner);
    let other = 1 - paused;
    let (paused_base, other_base) = (&bases[paused], &bases[other]);

    // Work for the runner; it catches up, then is paused while idle.
    let head = commands(&http, other_base, "cart-before", true, 20);
    let (_, before) = wait_until(
        PATIENCE,
        "the running node to apply every event",
        || cart_summary_status(&http, paused_base).expect("the node answers"),
        |(_, status)| status["checkpoint"].as_u64() >= Some(head) && running(status),
    );
    let applied = before["eventsApplied"].as_u64().expect("eventsApplied");
    signal(servers[paused].pid(), "STOP");
    let stopped_at = Instant::now();

    // The other node takes over once the lease expires, and goes on.
    let (_, status) = wait_until(
        PATIENCE,
        "the other node to take the projection over",
        || cart_summary_status(&http, other_base).expect("the node answers"),
        |(_, status)| running(status) && status["runner"]["thisNode"] == true,
    );
    let took_over = stopped_at.elapsed();
    let new_token = status["runner"]["token"].as_u64().unwrap();
    println!(
        "the other node took the projection over {took_over:?} after the runner was paused (lease {LEASE_TTL}); token {token} -> {new_token}"
    );
    assert!(new_token > token, "{token} -> {new_token}");
    commands(&http, other_base, "cart-during", true, 20);

    // Resumed, the first node finds it lost the lease and stands by; it commits
    // nothing more, while the other node goes on applying.
    signal(servers[paused].pid(), "CONT");
    let resumed = Instant::now();
    let (_, status) = wait_until(
        PATIENCE,
        "the resumed node to stand by",
        || cart_summary_status(&http, paused_base).expect("the node answers"),
        |(_, status)| status["state"] == "standby",
    );
    println!(
        "the resumed node stood by {:?} after SIGCONT",
        resumed.elapsed()
    );
    assert_eq!(status["runner"]["thisNode"], false, "{status}");
    assert_eq!(status["runner"]["token"], new_token, "{status}");
    let head = commands(&http, other_base, "cart-after", true, 20);
    let expected = summaries_of(&whole_log(other_base));
    assert_eq!(served_summaries(other_base, head), expected);
    assert_eq!(served_summaries(paused_base, head), expected);
    let (_, after) = cart_summary_status(&http, paused_base).expect("the node answers");
    assert_eq!(after["state"], "standby", "{after}");
    assert_eq!(
        after["eventsApplied"], applied,
        "the resumed node committed events after it lost the lease: {after}"
    );
    println!(
        "the resumed node applied {applied} events before the pause and none after; {} of its batches were fenced",
        after["fencedCommits"]
    );
    assert!(after["fencedCommits"].is_u64(), "{after}");
    let (_, runner) = cart_summary_status(&http, other_base).expect("the node answers");
    assert!(runner["checkpoint"].as_u64() >= Some(head), "{runner}");
    for server in servers {
        server.stop();
    }
}

#[test]
fn a_deploy_through_one_node_goes_live_on_the_others() {
    let db = Db::on(Backend::Postgres);
    let nodes = [db.serve_cart(&[]), db.serve_cart(&[])];
    let http = agent();
    let v2 = crate::support::guests::wasm(crate::support::guests::CART_V2);
    let deployed = crate::support::server::put(&http, &nodes[0].url("/modules/cart"), &v2, None);
    assert_eq!(deployed.ok()["version"], 2, "{deployed:?}");
    let recorded = Instant::now();
    let hash = refold::runtime::content_hash(&v2);
    wait_until(
        PATIENCE,
        "the other node to make the deploy live",
        || get(&http, &nodes[1].url("/modules")).ok()["modules"].clone(),
        |modules| {
            modules.as_array().is_some_and(|modules| {
                modules
                    .iter()
                    .any(|m| m["name"] == "cart" && m["version"] == 2 && m["hash"] == hash.as_str())
            })
        },
    );
    println!(
        "the other node made the deploy live {:?} after it was recorded",
        recorded.elapsed()
    );
    let opened = crate::support::server::post(
        &http,
        &nodes[1].url("/commands/cart/cart-1"),
        &open_cart("cart-1"),
        None,
    );
    assert_eq!(opened.ok()["moduleVersion"], 2, "{opened:?}");
    for node in nodes {
        node.stop();
    }
}
