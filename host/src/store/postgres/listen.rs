//! The log head as this node knows it: a watch fed by `LISTEN`/`NOTIFY` and by the
//! node's own commits.
//!
//! Every append and import notifies the store's channel when it commits. A
//! notification is only a wake-up: on each one (and after every connect or reconnect,
//! when notifications may have been missed) the listener reads the head with a query
//! and publishes it if it moved forward. So a lost notification delays nobody past the
//! next one or the next reconnect, and a subscriber that wakes always re-reads the log
//! from its own checkpoint.

use super::events;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT: Duration = Duration::from_millis(500);

/// Move the watched head forward to `head` (never back).
pub(super) fn advance(watch: &watch::Sender<u64>, head: u64) {
    watch.send_if_modified(|current| {
        let moved = head > *current;
        if moved {
            *current = head;
        }
        moved
    });
}

/// Listen on `channel` over its own connection made with `config` (named
/// `refold-listen-<schema>` in `pg_stat_activity`) and keep `head` up to date, reconnecting whenever the connection is lost, until the store drops (which
/// aborts this task).
pub(super) async fn run(
    config: tokio_postgres::Config,
    channel: String,
    head: Arc<watch::Sender<u64>>,
) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (wake, mut woken) = mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if wake.send(()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "the store's notification connection failed");
                                return;
                            }
                        }
                    }
                });
                let listening = client.batch_execute(&format!("LISTEN \"{channel}\"")).await;
                if let Err(error) = listening {
                    tracing::warn!(%error, "cannot listen for the store's notifications");
                } else {
                    // Re-read once listening: what committed before is not notified.
                    let mut alive = true;
                    while alive {
                        match client.query_one(events::HEAD, &[]).await {
                            Ok(row) => advance(&head, super::unsigned(row.get(0))),
                            Err(error) => {
                                tracing::warn!(%error, "cannot read the log head");
                                break;
                            }
                        }
                        alive = woken.recv().await.is_some();
                        while woken.try_recv().is_ok() {}
                    }
                }
                driver.abort();
            }
            Err(error) => {
                tracing::warn!(%error, "cannot connect for the store's notifications");
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
