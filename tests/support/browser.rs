//! A real headless Chromium, driven through its chromedriver (Debian's `chromium`
//! and `chromium-driver`, which `./dev test` installs), for the admin page's tests:
//! the page's own script runs against a real `refold serve`.

use super::block_on;
use super::guests::target_dir;
use super::wait::PATIENCE;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver child process and one browser session on it, both ended when
/// dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    client: Option<Client>,
}

impl Browser {
    /// Start chromedriver on a free loopback port and open a headless session.
    pub fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: install Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; ./dev test does it)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            port,
            client: None,
        };
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connected = block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url),
            );
            match connected {
                Ok(client) => break client,
                Err(error) if started.elapsed() < PATIENCE => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("no browser session within {PATIENCE:?}: {error}"),
            }
        };
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Load `url`.
    pub fn open(&self, url: &str) {
        block_on(self.client().goto(url)).unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// The URL shown now.
    pub fn current_url(&self) -> String {
        block_on(self.client().current_url())
            .expect("the browser answers")
            .to_string()
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page; what it
    /// returned.
    pub fn run(&self, script: &str, args: Vec<Value>) -> Value {
        block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
    }

    /// The text of the first element `selector` matches, or `None`.
    pub fn text(&self, selector: &str) -> Option<String> {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(selector)],
        )
        .as_str()
        .map(str::to_owned)
    }

    /// Whether the first element `selector` matches is shown (it and its parents not
    /// hidden).
    pub fn visible(&self, selector: &str) -> bool {
        self.run(
            "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;",
            vec![json!(selector)],
        ) == json!(true)
    }

    /// Click the first element `selector` matches.
    pub fn click(&self, selector: &str) {
        let element = block_on(self.client().find(Locator::Css(selector)))
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"));
        block_on(element.click()).unwrap_or_else(|e| panic!("cannot click {selector}: {e}"));
    }

    /// Type `text` into the first element `selector` matches.
    pub fn type_into(&self, selector: &str, text: &str) {
        let element = block_on(self.client().find(Locator::Css(selector)))
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"));
        block_on(element.clear()).expect("the field clears");
        block_on(element.send_keys(text))
            .unwrap_or_else(|e| panic!("cannot type into {selector}: {e}"));
    }

    /// Wait up to `timeout` for `look` to see something; what it saw, and how long it
    /// took. Panics naming `what`, with the page's text, when nothing came.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut look: impl FnMut(&Browser) -> Option<T>,
    ) -> (T, Duration) {
        let started = Instant::now();
        loop {
            if let Some(seen) = look(self) {
                return (seen, started.elapsed());
            }
            if started.elapsed() > timeout {
                let page = self.text("body").unwrap_or_default();
                panic!(
                    "waited {:?} for {what}; the page shows:\n{page}",
                    started.elapsed()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The browser's console messages at level SEVERE (errors, uncaught exceptions,
    /// failed loads) since the last call, read from chromedriver's log endpoint.
    pub fn console_errors(&self) -> Vec<String> {
        let session = block_on(self.client().session_id())
            .expect("the browser answers")
            .expect("an open session");
        let url = format!("http://127.0.0.1:{}/session/{session}/se/log", self.port);
        let mut answer = ureq::post(&url)
            .header("content-type", "application/json")
            .send(r#"{"type":"browser"}"#)
            .expect("chromedriver answers its log endpoint");
        let text = answer.body_mut().read_to_string().expect("a log");
        let log: Value = serde_json::from_str(&text).expect("a JSON log");
        log["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Save a screenshot of the page as `target/ui-screenshots/<name>.png`; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = block_on(self.client().screenshot()).expect("a screenshot");
        let folder = target_dir().join("ui-screenshots");
        std::fs::create_dir_all(&folder).expect("create the screenshot folder");
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
