//! A real `refold serve` as a child process on a loopback port, and a small HTTP client
//! for it.

use super::guests::workspace_root;
use super::guests::{self, CART, CART_SUMMARY};
use super::wait::output_within;
use super::wait::{Lines, PATIENCE};
use super::{Backend, postgres};
use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// How long one run of the binary may take before a test calls it hung: generous,
/// since `refold test` of a Python module compiles 18 MiB of wasm in a debug build.
pub const RUN_PATIENCE: Duration = Duration::from_secs(600);

/// Run `refold --db <db> <args>` in the repository's root with `input` on stdin and no
/// environment that changes its defaults; what it printed and how it exited.
pub fn refold_on(db: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refold"))
        .arg("--db")
        .arg(db)
        .args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG")
        .env_remove("REFOLD_DB")
        .env_remove("REFOLD_STORE")
        .env_remove("REFOLD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the refold binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("write the input");
    drop(stdin);
    output_within(child, RUN_PATIENCE, &format!("refold {}", args.join(" ")))
}

/// A running `refold serve`, killed when dropped unless it was stopped first.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

/// A store for servers to start on: a SQLite file in a temporary directory, or a fresh
/// schema on the PostgreSQL test server (the directory then holds the servers' logs).
pub struct Db {
    dir: TempDir,
    /// The store URL of the PostgreSQL schema, for a store of [`Backend::Postgres`].
    postgres: Option<String>,
}

impl Db {
    /// A fresh directory; the database is created by the first server.
    pub fn new() -> Db {
        Db::on(Backend::Sqlite)
    }

    /// A fresh store of `backend`, created by the first server.
    pub fn on(backend: Backend) -> Db {
        let postgres = (backend == Backend::Postgres).then(|| {
            let schema = postgres::fresh_config().schema;
            format!("{}?schema={schema}", postgres::url())
        });
        Db {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            postgres,
        }
    }

    /// The database file (for a PostgreSQL store, where it would be: logs go beside it).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("refold.db")
    }

    /// The global options that name this store: `--db <file>` or `--store <URL>`.
    pub fn store_args(&self) -> [OsString; 2] {
        match &self.postgres {
            Some(url) => ["--store".into(), url.into()],
            None => ["--db".into(), self.path().into()],
        }
    }

    /// A server on this database with the cart decider and the cart-summary projection.
    pub fn serve_cart(&self, extra: &[&str]) -> Server {
        let cart = format!("cart={}", guests::wasm_path(CART).display());
        let summary = format!("cart-summary={}", guests::wasm_path(CART_SUMMARY).display());
        let mut args = vec!["--deploy", &cart, "--deploy", &summary];
        args.extend_from_slice(extra);
        self.serve(&args)
    }

    /// A server on this database with `args` after `serve`.
    pub fn serve(&self, args: &[&str]) -> Server {
        Server::start(&self.store_args(), &self.path(), args, &[])
    }

    /// [`serve`](Self::serve) with the environment variables `env` set, e.g. a
    /// test-only failpoint (`REFOLD_FAILPOINT`).
    pub fn serve_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start(&self.store_args(), &self.path(), args, env)
    }

    /// [`serve_with_env`](Self::serve_with_env), or the server's log when it exited
    /// before it listened (killed at a failpoint while it started, say).
    pub fn try_serve_with_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        Server::try_start(&self.store_args(), &self.path(), args, env)
    }
}

impl Server {
    /// Start `refold <store> serve --listen 127.0.0.1:0 <args>`, its log beside `db`,
    /// and wait for the line that says where it listens.
    fn start(store: &[OsString], db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::try_start(store, db, args, env).unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// [`start`](Self::start), or what went wrong with the server's log.
    fn try_start(
        store: &[OsString],
        db: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let log = db.with_extension(format!("serve-{}.log", unique()));
        let stderr = std::fs::File::create(&log).expect("create the server's log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_refold"))
            .args(store)
            .args(["--log-level", "info", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("REFOLD_DB")
            .env_remove("REFOLD_STORE")
            .env_remove("REFOLD_TOKEN")
            .env_remove("REFOLD_FAILPOINT")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the refold binary starts");
        // Read on its own thread, which keeps draining stdout so the server never
        // blocks on a full pipe.
        let mut stdout = Lines::new(child.stdout.take().expect("piped stdout"));
        let line = stdout.next_within(PATIENCE);
        let address = line
            .as_deref()
            .and_then(|line| line.strip_prefix("refold listening on http://"))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned);
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "refold serve did not say where it listens within {PATIENCE:?} (its first line: {line:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        };
        Ok(Server {
            child,
            base: format!("http://{address}"),
            log,
        })
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident set size now, in bytes (`VmRSS` of its `/proc` status).
    pub fn rss(&self) -> usize {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}; is the server running?"));
        let kib: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{path} reports no VmRSS"));
        kib * 1024
    }

    /// How long an ordinary command takes now: `AddItem` on `cart`, which must be
    /// open. Fails unless the command succeeds.
    pub fn cart_command_latency(&self, cart: &str) -> Duration {
        let started = std::time::Instant::now();
        post(
            &agent(),
            &self.url(&format!("/commands/cart/{cart}")),
            &add_item(cart, "sku-probe", 1),
            None,
        )
        .ok();
        started.elapsed()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Wait for the server to exit (after a signal), at most a minute.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit within a minute; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How the server exited, if it has (it may have killed itself at a failpoint).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the server")
    }

    /// Kill the server with SIGKILL: no clean shutdown, its leases are left to expire.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let _ = self.child.wait();
    }

    /// Stop the server with SIGTERM and check it exits successfully.
    pub fn stop(mut self) {
        self.sigterm();
        let status = self.wait();
        assert!(status.success(), "{status}; log:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An HTTP client that returns every status as an answer, not an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A status and a JSON body (`Value::Null` when the body is empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// Every header.
    pub headers: ureq::http::HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON, or `Null`.
    pub json: Value,
}

impl Answer {
    /// The answer of a request.
    pub fn of(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response
            .body_mut()
            .read_to_string()
            .expect("the body is text");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            headers,
            text,
            json,
        }
    }

    /// Check the status is `status` and the body a JSON error of `kind`; the error.
    pub fn error(&self, status: u16, kind: &str) -> &Value {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.content_type.starts_with("application/json"),
            "an error body is JSON: {self:?}"
        );
        let error = &self.json["error"];
        assert_eq!(error["kind"], kind, "{self:?}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        error
    }

    /// Check the status is 2xx; the JSON body.
    pub fn ok(&self) -> &Value {
        assert!((200..300).contains(&self.status), "{self:?}");
        &self.json
    }
}

/// `text` as one component of a URL: every byte but letters, digits and `-._~`
/// percent-encoded.
pub fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET url`.
pub fn get(agent: &ureq::Agent, url: &str) -> Answer {
    Answer::of(agent.get(url).call())
}

/// `POST url` with `body`, and `Authorization: Bearer token` if given.
pub fn post(agent: &ureq::Agent, url: &str, body: &str, token: Option<&str>) -> Answer {
    let token = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = token
        .iter()
        .map(|t| ("authorization", t.as_str()))
        .collect();
    Answer::of(send_post(agent, url, body, &headers))
}

/// `POST url` with `body` and the headers `headers`.
pub fn post_with(agent: &ureq::Agent, url: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    Answer::of(send_post(agent, url, body, headers))
}

/// `POST url` with `body` and `headers`, as sent: the server may not answer.
pub fn send_post(
    agent: &ureq::Agent,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let mut request = agent.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send(body)
}

/// `PUT url` with `body`, and `Authorization: Bearer token` if given.
pub fn put(agent: &ureq::Agent, url: &str, body: &[u8], token: Option<&str>) -> Answer {
    let mut request = agent.put(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    Answer::of(request.send(body))
}

/// The command that opens cart `cart`.
pub fn open_cart(cart: &str) -> String {
    format!(
        r#"{{"type":"OpenCart","data":{{"cartId":"{cart}","customerId":"customer-1","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}}}"#
    )
}

/// The command that adds `quantity` units of `sku` to cart `cart`.
pub fn add_item(cart: &str, sku: &str, quantity: u64) -> String {
    format!(
        r#"{{"type":"AddItem","data":{{"cartId":"{cart}","sku":"{sku}","name":"Product","quantity":{quantity},"unitPrice":1250,"addedAt":"2024-01-01T00:00:05.000Z"}}}}"#
    )
}

/// The whole log as the server at `base` reads it, page by page.
pub fn whole_log(base: &str) -> Vec<Value> {
    let http = agent();
    let mut events: Vec<Value> = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(0, |e| e["globalPosition"].as_u64().unwrap());
        let page = get(&http, &format!("{base}/log?after={after}&limit=1000"));
        let page = page.ok()["events"].as_array().expect("events").clone();
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}
