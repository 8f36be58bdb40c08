//! What writing a decider in another language costs: the cart decider as a Rust,
//! Python, JavaScript (SpiderMonkey) and JavaScript (QuickJS) component, side by side
//! in one run, with the same logic called natively as the floor.
//!
//! For each: component size; first load (compile, median of 3); load from the disk
//! cache (deserialize a precompiled artifact, median of 10); instantiation (a load of
//! the component already compiled, which instantiates it fresh for its trial
//! `initial-state`, minus a warm call, median of 20); and the per-command cost on
//! the cart workload (decide + evolve of an `AddItem` on a loaded 8-item cart, median of
//! 2,000). It checks that every component decides and folds exactly what the Rust one
//! does.
//!
//! Run it in release: `cargo run --release -p refold --example languages-bench`. It
//! builds the components first (cargo for Rust, `examples/build-polyglot.sh` for the
//! others) and prints a Markdown table. Words after `--` pick rows by label (e.g.
//! `-- python quickjs`); the Rust row always runs, as the reference.

use refold::runtime::{Event, Module, NewEvent, Runtime, RuntimeConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const COMPILES: usize = 3;
const DISK_LOADS: usize = 10;
const INSTANTIATIONS: usize = 20;
const COMMANDS: usize = 2_000;
const ITEMS: u64 = 8;

/// One component under test: its label and file.
struct Subject {
    label: &'static str,
    path: PathBuf,
}

/// The figures of one row.
struct Row {
    label: &'static str,
    size: usize,
    compile: Duration,
    disk_load: Duration,
    instantiate: Duration,
    command: Duration,
}

fn main() {
    let target = target_dir();
    // Words on the command line pick rows (e.g. `quickjs`); the Rust row always runs.
    let picked: Vec<String> = std::env::args().skip(1).map(|a| a.to_lowercase()).collect();
    let subjects: Vec<Subject> = build(&target)
        .into_iter()
        .filter(|s| {
            let label = s.label.to_lowercase();
            s.label == "Rust" || picked.is_empty() || picked.iter().any(|p| label.contains(p))
        })
        .collect();
    let cache = target.join("languages-bench-cache");
    let (opened, items, add) = workload();

    let mut rows = Vec::new();
    let mut reference: Option<(Vec<NewEvent>, Vec<u8>)> = None;
    for subject in &subjects {
        let bytes = std::fs::read(&subject.path).expect("a built component is readable");
        eprintln!("languages-bench: {} ({} bytes)", subject.label, bytes.len());

        let compile = median(COMPILES, || {
            let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
            timed(|| runtime.load("cart", &bytes).unwrap())
        });

        // Fill the disk cache once, then time restarts that load from it.
        let _ = std::fs::remove_dir_all(&cache);
        let cached = RuntimeConfig {
            cache_dir: Some(cache.clone()),
            ..RuntimeConfig::default()
        };
        Runtime::new(cached.clone())
            .unwrap()
            .load("cart", &bytes)
            .unwrap();
        let disk_load = median(DISK_LOADS, || {
            let runtime = Runtime::new(cached.clone()).unwrap();
            let elapsed = timed(|| runtime.load("cart", &bytes).unwrap());
            assert_eq!(runtime.cache_stats().loaded_from_disk, 1);
            elapsed
        });

        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let warm = runtime.load("cart", &bytes).unwrap();
        let warm_call = median(INSTANTIATIONS, || timed(|| warm.initial_state().unwrap()));
        let first_call = median(INSTANTIATIONS, || {
            let started = Instant::now();
            let fresh = runtime.load("cart", &bytes).unwrap();
            let call = started.elapsed();
            assert_eq!(fresh.instances_created(), 1);
            call
        });

        let state = warm
            .evolve(&warm.initial_state().unwrap(), &stored(&opened, &items))
            .unwrap();
        let command = median(COMMANDS, || {
            timed(|| decide_and_evolve(&warm, &state, &add))
        });
        let outcome = decide_and_evolve(&warm, &state, &add);
        match &reference {
            None => reference = Some(outcome),
            Some(rust) => assert!(
                &outcome == rust,
                "{} decides or folds differently from the Rust cart",
                subject.label
            ),
        }

        rows.push(Row {
            label: subject.label,
            size: bytes.len(),
            compile,
            disk_load,
            instantiate: first_call.saturating_sub(warm_call),
            command,
        });
    }
    let _ = std::fs::remove_dir_all(&cache);
    let native = native_command(&opened, &items, &add);
    print_table(&rows, native);
}

/// How long `f` takes (what it returns is dropped after the clock stops).
fn timed<T>(f: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    drop(value);
    elapsed
}

/// The median of `runs` durations measured by `f`.
fn median(runs: usize, f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = std::iter::repeat_with(f).take(runs).collect();
    times.sort();
    times[runs / 2]
}

/// The cart workload's cart 0: its `CartOpened` data, its 8 `ItemAdded` data, and the
/// command adding a 9th item.
fn workload() -> (String, Vec<String>, String) {
    let opened = r#"{"cartId":"cart-0","customerId":"customer-0000","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}"#.to_owned();
    let item = |k: u64| {
        let p = k % 5000;
        format!(
            r#"{{"cartId":"cart-0","sku":"SKU-{p:05}","name":"Product {p}","quantity":{},"unitPrice":{},"addedAt":"2024-01-01T00:00:{:02}.000Z"}}"#,
            1 + k % 3,
            100 + (k * 17) % 9900,
            k % 60
        )
    };
    let items = (1..=ITEMS).map(item).collect();
    let add = format!(r#"{{"type":"AddItem","data":{}}}"#, item(ITEMS + 1));
    (opened, items, add)
}

/// The stored events of an open cart holding `items`.
fn stored(opened: &str, items: &[String]) -> Vec<Event> {
    std::iter::once(("CartOpened", opened))
        .chain(items.iter().map(|data| ("ItemAdded", data.as_str())))
        .enumerate()
        .map(|(i, (event_type, data))| event(i as u64 + 1, event_type, data))
        .collect()
}

fn event(position: u64, event_type: &str, data: &str) -> Event {
    Event {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        metadata: "{}".to_owned(),
        stream_id: "cart-0".to_owned(),
        stream_position: position,
        global_position: position,
        event_id: format!("00000000-0000-0000-0000-{position:012}"),
        recorded_at: "2024-01-01T00:00:00.000Z".to_owned(),
        partition: "default".to_owned(),
        tags: Vec::new(),
    }
}

/// One command as the command handler runs it on a cached state: decide, then fold the
/// decided event into the state.
fn decide_and_evolve(cart: &Module, state: &[u8], command: &str) -> (Vec<NewEvent>, Vec<u8>) {
    let events = cart.decide(state, command).unwrap().unwrap();
    let appended: Vec<Event> = events
        .iter()
        .map(|e| event(ITEMS + 2, &e.event_type, &e.data))
        .collect();
    let state = cart.evolve(state, &appended).unwrap();
    (events, state)
}

/// The same command through the cart's logic called natively (no wasm).
fn native_command(opened: &str, items: &[String], add: &str) -> Duration {
    let native_event = |e: &Event| refold_guest::Event {
        event_type: e.event_type.clone(),
        data: e.data.clone(),
        stream_id: e.stream_id.clone(),
        stream_position: e.stream_position,
        global_position: e.global_position,
        ..Default::default()
    };
    let history: Vec<refold_guest::Event> =
        stored(opened, items).iter().map(native_event).collect();
    let initial = refold_guest::wire::initial_state::<cart::Cart>();
    let state = refold_guest::wire::evolve::<cart::Cart>(&initial, &history).unwrap();
    median(COMMANDS, || {
        timed(|| {
            let events = refold_guest::wire::decide::<cart::Cart>(
                &refold_guest::Context::default(),
                &state,
                add,
            )
            .unwrap();
            let appended: Vec<refold_guest::Event> = events
                .iter()
                .map(|e| native_event(&event(ITEMS + 2, &e.event_type, &e.data)))
                .collect();
            refold_guest::wire::evolve::<cart::Cart>(&state, &appended).unwrap()
        })
    })
}

fn print_table(rows: &[Row], native: Duration) {
    println!(
        "| | component size | first load (compile) | load from disk cache | instantiate | decide + evolve, one AddItem |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.label,
            size(row.size),
            duration(row.compile),
            duration(row.disk_load),
            duration(row.instantiate),
            duration(row.command)
        );
    }
    println!(
        "| native Rust (no wasm) | – | – | – | – | {} |",
        duration(native)
    );
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    }
}

fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 1e6 {
        format!("{:.2} s", micros / 1e6)
    } else if micros >= 1e3 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{micros:.1} µs")
    }
}

/// Build the Rust cart with cargo and the others with the polyglot script, into
/// `target`; the components in table order.
fn build(target: &Path) -> Vec<Subject> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the workspace root");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "cart",
        ])
        .arg("--target-dir")
        .arg(target)
        .current_dir(root)
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the Rust cart for wasm32-wasip2 failed"
    );
    let polyglot = ["cart-py", "cart-js-spidermonkey", "cart-js-quickjs"];
    let status = Command::new(root.join("examples/build-polyglot.sh"))
        .args(polyglot)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(root)
        .status()
        .expect("the polyglot build script runs");
    assert!(status.success(), "examples/build-polyglot.sh failed");
    let folder = target.join("polyglot");
    vec![
        Subject {
            label: "Rust",
            path: target.join("wasm32-wasip2/release/cart.wasm"),
        },
        Subject {
            label: "Python (componentize-py)",
            path: folder.join("cart-py.wasm"),
        },
        Subject {
            label: "JavaScript, SpiderMonkey (componentize-js)",
            path: folder.join("cart-js-spidermonkey.wasm"),
        },
        Subject {
            label: "JavaScript, QuickJS (componentize-qjs)",
            path: folder.join("cart-js-quickjs.wasm"),
        },
    ]
}

/// The target directory: this binary is `<target>/<profile>/examples/languages-bench`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .expect("the benchmark knows its path")
        .ancestors()
        .nth(3)
        .expect("the benchmark lives in <target>/<profile>/examples")
        .to_path_buf()
}
