//! The order flow on a child `refold serve` killed with SIGKILL ten times at seeded
//! moments (after a workflow step is written, after a command it sent was answered,
//! after a command's append) and restarted: every order ends in exactly its one
//! expected state, no command applied twice, none lost. SQLite only: the workflow's
//! part is backend-neutral and the flow runs on both in `flow.rs`.

use super::orders::{Fate, cart_commands, try_serve_flow};
use crate::support::seed::SplitMix;
use crate::support::server::{Answer, Db, Server, agent, send_post};
use crate::support::wait::PATIENCE;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Instant;

/// Orders driven through the flow.
const ORDERS: usize = 200;
/// Kills, each at a seeded failpoint and count.
const KILLS: usize = 10;
/// The failpoints kills are drawn from.
const FAILPOINTS: [&str; 3] = [
    "workflow-after-step",
    "workflow-after-command",
    "command-after-append",
];

/// The child server and the kills left to make.
struct Crashing<'a> {
    db: &'a Db,
    server: Option<Server>,
    plan: Vec<String>,
    kills: usize,
}

impl Crashing<'_> {
    /// Start the server with the next kill's failpoint; one that dies at it while it
    /// starts (catching up) counts as that kill, and the next is started.
    fn start(&mut self) {
        loop {
            let failpoint = self.plan.get(self.kills).map(String::as_str);
            match try_serve_flow(self.db, failpoint) {
                Ok(server) => {
                    self.server = Some(server);
                    return;
                }
                Err(log) if failpoint.is_some() && log.contains("failpoint reached") => {
                    self.kills += 1;
                }
                Err(problem) => panic!("{problem}"),
            }
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("a server runs")
    }

    /// Call `request` on the server until it answers, restarting the server each time
    /// it died (at its failpoint) meanwhile.
    fn call(&mut self, request: impl Fn(&Server) -> Sent) -> Answer {
        let started = Instant::now();
        loop {
            let sent = request(self.server());
            let failed = match sent {
                Ok(response) => {
                    let answer = Answer::of(Ok(response));
                    if answer.status < 500 {
                        return answer;
                    }
                    format!("{answer:?}")
                }
                Err(error) => error.to_string(),
            };
            let exited = self.server.as_mut().expect("a server runs").try_exit();
            if let Some(status) = exited {
                assert!(
                    self.kills < self.plan.len(),
                    "the server exited ({status}) without a failpoint set; its log:\n{}",
                    self.server().log()
                );
                self.kills += 1;
                self.start();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "no answer within {PATIENCE:?}; last {failed}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn every_order_ends_once_as_meant_across_ten_sigkills() {
    let mut random = SplitMix::seeded();
    let plan: Vec<String> = (0..KILLS)
        .map(|_| {
            let failpoint = FAILPOINTS[(random.next() % FAILPOINTS.len() as u64) as usize];
            format!("{failpoint}:{}", 3 + random.next() % 20)
        })
        .collect();
    eprintln!("kill plan: {plan:?}");
    let db = Db::new();
    let mut crashing = Crashing {
        db: &db,
        server: None,
        plan,
        kills: 0,
    };
    crashing.start();
    let http = agent();
    let orders: Vec<(String, Fate)> = (0..ORDERS)
        .map(|n| (format!("o{n}"), Fate::of(n)))
        .collect();
    for (order, fate) in &orders {
        for (k, command) in cart_commands(order, *fate, fate.timeout_ms(1500))
            .iter()
            .enumerate()
        {
            let key = format!("{order}-cart-{k}");
            let answer = crashing.call(|server| {
                send_post(
                    &http,
                    &server.url(&format!("/commands/cart/cart-{order}")),
                    command,
                    &[("Idempotency-Key", &key)],
                )
            });
            answer.ok();
        }
    }
    // The provider settles each payment once it is asked for.
    let mut waiting: Vec<&(String, Fate)> = orders
        .iter()
        .filter(|(o, f)| f.settle(o).is_some())
        .collect();
    let started = Instant::now();
    while !waiting.is_empty() {
        waiting.retain(|(order, fate)| {
            let stream = crashing.call(|server| {
                http.get(server.url(&format!("/streams/payment-{order}")))
                    .call()
            });
            if !types(&stream.json["events"])
                .iter()
                .any(|t| t == "PaymentRequested")
            {
                return true;
            }
            let settle = fate.settle(order).expect("only settled orders wait");
            let key = format!("{order}-settle");
            crashing
                .call(|server| {
                    send_post(
                        &http,
                        &server.url(&format!("/commands/payment/payment-{order}")),
                        &settle,
                        &[("Idempotency-Key", &key)],
                    )
                })
                .ok();
            false
        });
        assert!(
            started.elapsed() < 3 * PATIENCE,
            "{} payments were never asked for",
            waiting.len()
        );
    }
    let started = Instant::now();
    let status = loop {
        let answer = crashing.call(|server| http.get(server.url("/workflows/order-flow")).call());
        let status = answer.ok().clone();
        if status["instancesFinished"] == ORDERS as u64 && status["lag"] == 0 {
            break status;
        }
        assert!(
            started.elapsed() < 3 * PATIENCE,
            "the orders did not all finish: {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        crashing.kills, KILLS,
        "every planned kill happened; status {status}"
    );
    assert_eq!(
        (
            status["instancesOpen"].clone(),
            status["timersPending"].clone(),
            status["lastError"].clone()
        ),
        (0.into(), 0.into(), Value::Null),
        "{status}"
    );
    for (order, fate) in &orders {
        let mut read = |stream: String| {
            types(
                &crashing
                    .call(|server| http.get(server.url(&format!("/streams/{stream}"))).call())
                    .json["events"],
            )
        };
        assert_eq!(
            read(format!("stock-{order}")),
            fate.stock(),
            "stock of {order} ({fate:?})"
        );
        assert_eq!(
            read(format!("payment-{order}")),
            fate.payment(),
            "payment of {order} ({fate:?})"
        );
        let steps = crashing.call(|server| {
            http.get(server.url(&format!("/streams/workflow-order-flow-{order}")))
                .call()
        });
        let steps: Vec<Value> = steps.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "WorkflowStepped")
            .map(|e| e["data"].clone())
            .collect();
        let keys: HashSet<(u64, u64)> = steps
            .iter()
            .map(|s| (s["position"].as_u64().unwrap(), s["step"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            keys.len(),
            steps.len(),
            "a step of {order} written twice: {steps:?}"
        );
        let last = steps.last().expect("every order has steps");
        assert_eq!(
            (
                last["state"]["status"].as_str(),
                steps.iter().filter(|s| s["finished"] == true).count()
            ),
            (Some(fate.status()), 1),
            "the instance of {order}: {steps:?}"
        );
    }
    crashing.server.take().expect("a server runs").stop();
}

/// A request as sent: the server may not have answered.
type Sent = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

fn types(events: &Value) -> Vec<String> {
    super::orders::types(events)
}
