//! Talking to a running `refold serve` instead of opening its database: for the
//! commands that must not compete with a server over the same file (deploys,
//! rebuilds) or that want what the server knows (projection status).

use anyhow::{Context, bail};
use clap::Args;

/// Where a running server is, and the token its writes need.
#[derive(Debug, Args)]
pub struct Server {
    /// Send the request to this running server (e.g. `http://127.0.0.1:4400`)
    /// instead of opening the database file.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The server's token for writes and deploys.
    #[arg(long, env = "REFOLD_TOKEN", requires = "server")]
    pub token: Option<String>,
}

impl Server {
    /// The status list of `route` (its `key` field) as the running server answers it
    /// with `--server`, else as `local` reads it from the store: what `refold
    /// projections` and `refold workflows` print.
    pub fn statuses(
        &self,
        route: &str,
        key: &str,
        local: impl FnOnce() -> anyhow::Result<Vec<serde_json::Value>>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        match &self.server {
            Some(base) => {
                let answer = self.call(base, "GET", route, None)?;
                serde_json::from_value(answer[key].clone())
                    .context("the server's answer is not a status list")
            }
            None => local(),
        }
    }

    /// Send a request with an optional body; the JSON answer, or the server's error.
    pub fn call(
        &self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            // Learn of a refusal (no token, too large) before sending a module's bytes.
            request = request.header("expect", "100-continue");
        }
        let request = request
            .body(body.unwrap_or_default().to_vec())
            .with_context(|| format!("cannot build a request to {url}"))?;
        let mut response = agent.run(request).with_context(|| {
            format!("cannot reach the server at {base}: is `refold serve` running there?")
        })?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the server's answer ({status})"))?;
        let answer: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("the server answered {status} without a JSON body"))?;
        if !status.is_success() {
            let message = answer["error"]["message"].as_str().unwrap_or("no message");
            bail!("the server refused {method} {path} ({status}): {message}");
        }
        Ok(answer)
    }
}
