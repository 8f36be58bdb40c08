//! The standard cart workload's event data (`docs/workloads.md`), generated in one place.
//!
//! The benchmark suite and the tests replay exactly the same, fully deterministic
//! events, so their check sums hold everywhere: over carts 0..9999 with the standard
//! 8 items, Σ itemCount = [`CHECK_ITEM_COUNT`] and Σ total = [`CHECK_TOTAL`].
//! [`append_carts`] fills a store with them in the W1 round-robin order.

use refold::Result;
use refold::store::{AppendRequest, EventData, EventStore, ExpectedVersion};

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

/// Σ itemCount and Σ total of the `CartConfirmed` events of the standard carts
/// `0..carts`, read back from the generated JSON: the check sums a workload over fewer
/// carts verifies (for all 10,000 they are [`CHECK_ITEM_COUNT`] and [`CHECK_TOTAL`]).
pub fn check_sums(carts: u64) -> (u64, u64) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Confirmed {
        item_count: u64,
        total: u64,
    }
    (0..carts).fold((0, 0), |(items, total), i| {
        let events = cart_events(i, ITEMS);
        let (_, data) = events.last().expect("a cart ends with CartConfirmed");
        let confirmed: Confirmed =
            serde_json::from_str(data).expect("the generator writes valid CartConfirmed data");
        (items + confirmed.item_count, total + confirmed.total)
    })
}

/// The single-event appends of the standard carts `0..carts`, one list per client, in
/// round-robin order by round (event r of every cart before event r + 1 of any), each
/// with an exact expected version.
///
/// With `clients` = 1 that is W1's order exactly. With more, client `c` takes the carts
/// `i` with `i mod clients = c` and keeps the round-robin order over them (W1-64).
pub fn round_robin_appends(carts: u64, clients: u64) -> Vec<Vec<AppendRequest>> {
    let clients = clients.clamp(1, carts.max(1));
    let events: Vec<Vec<(&'static str, String)>> =
        (0..carts).map(|i| cart_events(i, ITEMS)).collect();
    (0..clients)
        .map(|client| {
            (0..=ITEMS + 1)
                .flat_map(|round| {
                    let events = &events;
                    (client..carts).step_by(clients as usize).map(move |cart| {
                        let (event_type, data) = &events[cart as usize][round as usize];
                        AppendRequest::new(
                            format!("cart-{cart}"),
                            ExpectedVersion::Exact(round),
                            vec![EventData::new(*event_type, data.clone())],
                        )
                    })
                })
                .collect()
        })
        .collect()
}

/// Run each client's appends concurrently with the others, each client's in order;
/// the first error (a conflict when an expected version was wrong) ends the run.
pub async fn append_concurrently(
    store: &dyn EventStore,
    clients: Vec<Vec<AppendRequest>>,
) -> Result<()> {
    let clients = clients.into_iter().map(|requests| async move {
        for request in requests {
            store.append(request).await?;
        }
        Ok::<_, refold::Error>(())
    });
    futures::future::try_join_all(clients).await.map(drop)
}

/// Append the standard carts `0..carts` to `store` in the default partition, in the
/// order of [`round_robin_appends`] with `clients` concurrent clients.
///
/// More clients make filling a store much faster (the store's group commit shares each
/// commit among them) while every stream's events stay spread over the log.
pub async fn append_carts(store: &dyn EventStore, carts: u64, clients: u64) -> Result<()> {
    append_concurrently(store, round_robin_appends(carts, clients)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_sums_of_the_standard_carts() {
        assert_eq!(check_sums(CARTS), (CHECK_ITEM_COUNT, CHECK_TOTAL));
    }
}
