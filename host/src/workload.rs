//! The standard cart workload's event data (`shared/WORKLOADS.md`), generated in one place.
//!
//! The benchmark suite and the tests replay exactly the same, fully deterministic
//! events, so their check sums hold everywhere: over carts 0..9999 with the standard
//! 8 items, Σ itemCount = [`CHECK_ITEM_COUNT`] and Σ total = [`CHECK_TOTAL`].
//! [`append_carts`] fills a store with them in the W1 round-robin order.

use crate::Result;
use crate::store::{AppendRequest, EventData, EventStore, ExpectedVersion};

/// Carts of the standard workloads (`cart-0` … `cart-9999`).
pub const CARTS: u64 = 10_000;
/// Items of the standard cart: with `CartOpened` and `CartConfirmed`, 10 events.
pub const ITEMS: u64 = 8;
/// Σ itemCount over the standard carts.
pub const CHECK_ITEM_COUNT: u64 = 160_001;
/// Σ total (cents) over the standard carts.
pub const CHECK_TOTAL: u64 = 802_573_025;

/// The `n + 2` events of cart `i` with `n` items, in stream order: type and JSON data.
pub fn cart_events(i: u64, n: u64) -> Vec<(&'static str, String)> {
    let mut events = Vec::with_capacity(n as usize + 2);
    events.push((
        "CartOpened",
        format!(
            r#"{{"cartId":"cart-{i}","customerId":"customer-{:04}","currency":"EUR","channel":"web","openedAt":"2024-01-01T00:00:00.000Z"}}"#,
            i % 1000
        ),
    ));
    let (mut item_count, mut total) = (0, 0);
    for k in 1..=n {
        let p = (i * 8 + k) % 5000;
        let quantity = 1 + (i + k) % 3;
        let unit_price = 100 + (i * 31 + k * 17) % 9900;
        item_count += quantity;
        total += quantity * unit_price;
        events.push((
            "ItemAdded",
            format!(
                r#"{{"cartId":"cart-{i}","sku":"SKU-{p:05}","name":"Product {p}","quantity":{quantity},"unitPrice":{unit_price},"addedAt":"2024-01-01T00:00:{:02}.000Z"}}"#,
                k % 60
            ),
        ));
    }
    events.push((
        "CartConfirmed",
        format!(
            r#"{{"cartId":"cart-{i}","itemCount":{item_count},"total":{total},"paymentMethod":"card","confirmedAt":"2024-01-01T00:10:00.000Z"}}"#
        ),
    ));
    events
}

/// Append the standard carts `0..carts` to `store` in the default partition, one event
/// per append with an exact expected version, round-robin by round (event r of every
/// cart before event r + 1 of any).
///
/// With `clients` = 1 that is W1's order exactly. With more, client `c` takes the carts
/// `i` with `i mod clients = c` and keeps the round-robin order over them (W1-64): the
/// store's group commit then shares each commit among the clients, which makes filling
/// a store much faster while every stream's events stay spread over the log.
pub fn append_carts(store: &dyn EventStore, carts: u64, clients: u64) -> Result<()> {
    let clients = clients.clamp(1, carts.max(1));
    let events: Vec<Vec<(&'static str, String)>> =
        (0..carts).map(|i| cart_events(i, ITEMS)).collect();
    let events = &events;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || -> Result<()> {
                    for round in 0..=ITEMS + 1 {
                        let mut cart = client;
                        while cart < carts {
                            let (event_type, data) = &events[cart as usize][round as usize];
                            store.append(AppendRequest::new(
                                format!("cart-{cart}"),
                                ExpectedVersion::Exact(round),
                                vec![EventData::new(*event_type, data.clone())],
                            ))?;
                            cart += clients;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().expect("an append client panicked"))
    })
}
