//! W4 and W4-16, command handling: the write side end to end.
//!
//! Every command goes through [`CommandHandler`] with its default settings (state
//! cache on, as a server runs it): load the stream's state, `decide`, append the
//! decided event with the loaded version as the expected version, fold it into the
//! cached state. It runs with the cart component, with the same Rust compiled in
//! (`NativeDecider<Cart>`), and, for W4, the writes alone as raw SQLite appends with a
//! version check: the floor under any command path.

use super::{Job, Metric, Recorder, Result, System, Work, per_second, timed, verify_carts};
use cart::Cart;
use refold::commands::{CommandConfig, CommandHandler, DeciderLogic, NativeDecider};
use refold::store::DEFAULT_PARTITION;
use refold_workload as workload;
use std::sync::Arc;

/// Clients of W4-16.
const W4_CLIENTS: u64 = 16;

/// One command: the stream it is for and its JSON.
struct Command {
    stream: String,
    json: String,
}

/// W4's commands, one list per client: round 0 `OpenCart`, rounds 1..8 `AddItem`,
/// round 9 `ConfirmCart`, round-robin over the client's carts (cart `i` goes to client
/// `i mod clients`).
fn commands(carts: u64, clients: u64) -> Vec<Vec<Command>> {
    let events: Vec<Vec<(&str, String)>> = (0..carts)
        .map(|i| workload::cart_events(i, workload::ITEMS))
        .collect();
    (0..clients)
        .map(|client| {
            (0..=workload::ITEMS + 1)
                .flat_map(|round| {
                    let events = &events;
                    (client..carts).step_by(clients as usize).map(move |i| {
                        let data = &events[i as usize][round as usize].1;
                        let json = match round {
                            0 => format!(r#"{{"type":"OpenCart","data":{data}}}"#),
                            r if r <= workload::ITEMS => {
                                format!(r#"{{"type":"AddItem","data":{data}}}"#)
                            }
                            _ => format!(
                                r#"{{"type":"ConfirmCart","data":{{"cartId":"cart-{i}"}}}}"#
                            ),
                        };
                        Command {
                            stream: format!("cart-{i}"),
                            json,
                        }
                    })
                })
                .collect()
        })
        .collect()
}

/// W4 (one client) or W4-16 (16) with the component and natively, and for W4 the raw
/// writes; commands per second each.
pub(super) fn w4(work: &Work<'_>, recorder: &mut Recorder, job: Job) -> Result<()> {
    let setup = work.setup;
    let carts = setup.sizes().command_carts;
    let clients = if job == Job::W4x16 { W4_CLIENTS } else { 1 };
    let count = carts * (workload::ITEMS + 2);
    let runtime = setup.runtime()?;
    let module = setup.deploy_cart(&runtime)?;
    let native = NativeDecider::<Cart>::new("cart");
    for (system, logic) in [
        (System::Refold, module as Arc<dyn DeciderLogic>),
        (System::Native, Arc::new(native)),
    ] {
        let store = Arc::new(work.fresh_store(&format!("{}.db", system.name()))?);
        recorder.observe(&store);
        let handler = CommandHandler::new(store.clone(), runtime.clone(), CommandConfig::default());
        let lists = commands(carts, clients);
        let ((), elapsed) = timed(|| {
            let clients = lists.into_iter().map(|list| {
                let (handler, logic) = (&handler, &logic);
                async move {
                    for command in list {
                        handler
                            .handle_with(
                                logic.clone(),
                                DEFAULT_PARTITION,
                                &command.stream,
                                &command.json,
                            )
                            .await?;
                    }
                    Ok::<_, refold::Error>(())
                }
            });
            crate::block_on(futures::future::try_join_all(clients))?;
            Ok(())
        })?;
        verify_carts(&format!("{} {}", system.name(), job.name()), &store, carts)?;
        recorder.figure(
            system,
            job.name(),
            Metric::CommandsPerS,
            per_second(count, elapsed),
        );
    }
    if job == Job::W4 {
        super::appends::raw_one_per_call(work, recorder, "W4", Metric::CommandsPerS, carts)?;
    }
    Ok(())
}
