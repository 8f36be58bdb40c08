//! The order flow, version 2: the same rules as version 1 (its own source), built as
//! another component, so a test can swap it in while instances are open and see each
//! step record which version decided it.
#![allow(missing_docs)]

#[path = "../../../../examples/order-flow/src/flow.rs"]
mod flow;

use flow::{Input, Order, OrderFlow};
use refold_guest::{Event, Outcome, Step, Workflow};

pub struct OrderFlowV2;

impl Workflow for OrderFlowV2 {
    type State = Order;
    type Input = Input;
    const EVENT_TYPES: &'static [&'static str] = OrderFlow::EVENT_TYPES;

    fn initial_state() -> Order {
        OrderFlow::initial_state()
    }

    fn instance_of(input: &Input, envelope: &Event) -> Option<String> {
        OrderFlow::instance_of(input, envelope)
    }

    fn on_event(
        order: &str,
        state: Order,
        input: Input,
        envelope: &Event,
    ) -> Result<Step<Order>, String> {
        OrderFlow::on_event(order, state, input, envelope)
    }

    fn on_outcome(order: &str, state: Order, outcome: Outcome) -> Result<Step<Order>, String> {
        OrderFlow::on_outcome(order, state, outcome)
    }
}

refold_guest::export_workflow!(OrderFlowV2);
