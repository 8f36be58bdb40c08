//! Waiting with a deadline. A test that needs something to have happened waits for a
//! sign of it, never for a sleep to pass; and every wait ends: after its deadline it
//! fails, naming what it waited for and what it saw last.

use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a test waits for what normally takes milliseconds before calling it stuck:
/// generous, so that a loaded machine is slow, not failing.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Look with `look` until what it sees satisfies `done`, and give that; panics after
/// `timeout` naming `what` it waited for, what it saw last and how long it waited.
pub fn wait_until<T: Debug>(
    timeout: Duration,
    what: &str,
    mut look: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        let seen = look();
        if done(&seen) {
            return seen;
        }
        let waited = started.elapsed();
        assert!(
            waited < timeout,
            "waited {waited:?} for {what}; last saw {seen:?}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// The complete lines a child process writes to a pipe, read on a thread of their own
/// so that each can be awaited with a deadline. The pipe is drained to its end even
/// when nobody reads the lines any more, so the writer never blocks on a full pipe.
pub struct Lines {
    lines: Receiver<String>,
    last: Option<String>,
}

impl Lines {
    /// Start reading `pipe`.
    pub fn new(pipe: impl Read + Send + 'static) -> Lines {
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match pipe.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                // A line cut short by the end of the pipe (a killed writer) was never
                // written whole: it is no line.
                if line.pop() != Some(b'\n') {
                    break;
                }
                let _ = send.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
        Lines { lines, last: None }
    }

    /// The next line, or `None` if none came within `timeout` or the pipe closed.
    pub fn next_within(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.last = Some(line.clone());
        Some(line)
    }

    /// The next line; panics after `timeout`, or when the pipe closes first, naming
    /// `what` it waited for and the last line read.
    pub fn next(&mut self, timeout: Duration, what: &str) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.last = Some(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "waited {timeout:?} for {what}; the last line read was {:?}",
                self.last
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the pipe closed before {what}; the last line read was {:?}",
                self.last
            ),
        }
    }

    /// Every further line until the pipe closes (its writer is gone); panics if it
    /// stays open for `timeout`, naming what it read so far.
    pub fn rest(self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "waited {timeout:?} for the pipe to close; read {} more lines, the last {:?}",
                    rest.len(),
                    rest.last().or(self.last.as_ref())
                ),
            }
        }
    }
}

/// Wait for `child` to exit, with what it printed, for at most `timeout`; after that
/// it is killed and the test fails naming `what` it was.
pub fn output_within(
    mut child: std::process::Child,
    timeout: Duration,
    what: &str,
) -> std::process::Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // A pipe that fails to read gives what it gave so far.
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().expect("the stdout reader ends"),
        stderr: stderr.join().expect("the stderr reader ends"),
    }
}
