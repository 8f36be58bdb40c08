//! The cart decider, version 2: everything version 1 does, plus one rule — at most
//! two units of a product per `AddItem`. Tests deploy it over the cart to watch a
//! hot swap take effect.
#![allow(missing_docs)]

/// The cart's own source: version 2 is version 1 plus a rule, not a copy of it.
#[path = "../../../../examples/cart/src/domain.rs"]
mod cart;

use cart::{Cart, CartCommand, CartEvent, CartState};
use refold_guest::{Context, Decider, Rejection};

pub struct CartV2;

impl Decider for CartV2 {
    type State = CartState;
    type Command = CartCommand;
    type Event = CartEvent;

    fn initial_state() -> CartState {
        Cart::initial_state()
    }

    fn evolve(state: CartState, event: CartEvent) -> CartState {
        Cart::evolve(state, event)
    }

    fn decide(
        command: CartCommand,
        state: &CartState,
        context: &Context,
    ) -> Result<Vec<CartEvent>, Rejection> {
        if let CartCommand::AddItem(added) = &command
            && added.quantity > 2
        {
            return Err(Rejection::new(format!(
                "cart v2 adds at most 2 units of a product at once, not {}",
                added.quantity
            )));
        }
        Cart::decide(command, state, context)
    }
}

refold_guest::export_decider!(CartV2);
