//! A private, throw-away PostgreSQL server for the tests of this process.
//!
//! The first test that asks for one starts it: `initdb` and `pg_ctl` from Debian's
//! `postgresql` package (`/usr/lib/postgresql/<version>/bin`, the newest version
//! installed) on a fresh directory under the system's temp folder, listening only on a
//! Unix socket in that directory, so no port is taken and no other server is reached.
//! Run as root (as CI does), the server runs as `nobody`, since PostgreSQL refuses to
//! run as root. Every test then gets its own schema on it ([`fresh_config`]), so tests
//! run in parallel without seeing each other's tables.
//!
//! The server is stopped when the test process ends, however it ends: a watchdog
//! started beside it (in its own session) waits for the test process to exit, then
//! stops the server and removes its directory. A server left behind by a run whose
//! watchdog was killed too is stopped by the next run before it starts its own.
//!
//! Without the PostgreSQL binaries a test fails with the command that installs them.

use refold::store::postgres::PgConfig;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where Debian installs each PostgreSQL version's binaries.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";

/// The prefix of every server directory this support makes (followed by the pid of the
/// test process that owns it).
const DIR_PREFIX: &str = "refold-test-pg-";

/// The port number the server's socket is named after (the socket is private to the
/// server's directory, so any number does).
const PORT: u16 = 5432;

/// The running server of this process.
struct Server {
    /// The folder holding the server's Unix socket.
    socket_dir: PathBuf,
}

static SERVER: LazyLock<Server> = LazyLock::new(start);

/// A connection URL for the test server's `postgres` database, over its Unix socket.
pub fn url() -> String {
    let socket = SERVER.socket_dir.display().to_string().replace('/', "%2F");
    format!("postgres://refold@{socket}:{PORT}/postgres")
}

/// Settings for a store in a schema no other test uses, on the shared test server.
pub fn fresh_config() -> PgConfig {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let schema = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    PgConfig::new(&url())
        .expect("the test server's URL is valid")
        .with_schema(&schema)
        .expect("a plain schema name")
}

/// The `bin` folder of the newest PostgreSQL installed, or a failure that says how to
/// install one.
fn binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(INSTALL_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests need PostgreSQL's server binaries, and none are installed \
             in {INSTALL_ROOT}/<version>/bin: install them with `apt-get install -y postgresql` \
             (./dev test does it for you)"
        ),
    }
}

/// Whether this process runs as root.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command that runs `program` as the server's user: `nobody` when this process is
/// root, else this process's own user.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Run `command` to completion; fail the test with its output if it fails.
fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({command:?}): {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {command:?}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Stop the servers of earlier test processes that are gone, and remove their folders.
fn clean_up_stale_servers(temp: &Path) {
    for entry in std::fs::read_dir(temp).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Some(postmaster) = std::fs::read_to_string(dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
        {
            // SIGQUIT: immediate shutdown; the data is thrown away next.
            let _ = Command::new("kill").args(["-QUIT", &postmaster]).status();
            let _ = Command::new("sh")
                .args([
                    "-c",
                    &format!("while kill -0 {postmaster} 2>/dev/null; do sleep 0.1; done"),
                ])
                .status();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Start this process's server (see the module docs).
fn start() -> Server {
    let bin = binaries();
    let temp = std::env::temp_dir();
    clean_up_stale_servers(&temp);
    let dir = temp.join(format!("{DIR_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test server's folder");
    if is_root() {
        run(
            {
                let mut chown = Command::new("chown");
                chown.arg("nobody:nogroup").arg(&dir);
                chown
            },
            "chown of the test server's folder",
        );
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(&bin.join("initdb"));
    initdb
        .arg("--pgdata")
        .arg(&data)
        .args(["--username=refold", "--auth=trust", "--encoding=UTF8"])
        .args(["--locale=C", "--no-sync"]);
    run(initdb, "initdb");
    // Before the server starts, so that from its first moment something stops it.
    watch_over(&dir);
    let mut pg_ctl = as_server_user(&bin.join("pg_ctl"));
    pg_ctl
        .arg("start")
        .arg("--pgdata")
        .arg(&data)
        .arg("--log")
        .arg(dir.join("server.log"))
        .arg("--wait")
        .arg("--options")
        .arg(format!(
            "-k {} -p {PORT} -c listen_addresses='' -c max_connections=300 -c fsync=off \
             -c full_page_writes=off",
            dir.display()
        ))
        .stdin(Stdio::null());
    run(pg_ctl, "pg_ctl start");
    Server { socket_dir: dir }
}

/// Start the watchdog that stops the server in `dir` (if one runs) once this process has
/// exited, and removes `dir`.
fn watch_over(dir: &Path) {
    // A server still starting when the test process died writes its pid file within
    // the second the watchdog then waits.
    let script = format!(
        "while kill -0 {test} 2>/dev/null; do sleep 0.5; done; \
         sleep 1; \
         pid=$(head -n 1 '{dir}/data/postmaster.pid' 2>/dev/null); \
         if [ -n \"$pid\" ]; then \
           kill -QUIT \"$pid\"; \
           while kill -0 \"$pid\" 2>/dev/null; do sleep 0.1; done; \
         fi; \
         rm -rf '{dir}'",
        test = std::process::id(),
        dir = dir.display()
    );
    // `setsid --fork` leaves the watchdog running in its own session and returns.
    let started = Command::new("setsid")
        .args(["--fork", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start the test server's watchdog");
    assert!(
        started.success(),
        "the test server's watchdog did not start: {started}"
    );
}
