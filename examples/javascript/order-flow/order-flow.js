// The order flow, in JavaScript: the same workflow as the Rust one
// (examples/order-flow), step for step and command for command, so the same spec file
// (examples/order-flow/specs) holds for both. Built by examples/build-polyglot.sh
// against the `workflow-module` world.

const DEFAULT_TIMEOUT_MS = 30000;

const EVENT_TYPES = ["CartConfirmed", "PaymentSucceeded", "PaymentFailed", "PaymentExpired"];

function parse(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw `${what} is not JSON: ${error.message}`;
  }
}

function command(decider, prefix, order, type, data) {
  return {
    decider,
    streamId: `${prefix}-${order}`,
    command: JSON.stringify({ type, data }),
    delayMs: undefined,
  };
}

function stock(order, type, data) {
  return command("stock", "stock", order, type, data);
}

function payment(order, type, data) {
  return command("payment", "payment", order, type, data);
}

function step(state, commands, finished) {
  return { state: JSON.stringify(state), commands, finished };
}

function onEvent(order, state, event) {
  const data = parse(event.data, `event ${event.globalPosition}`);
  const id = { orderId: order };
  if (state.status === "new" && event.eventType === "CartConfirmed") {
    const metadata = parse(event.metadata || "{}", "the metadata");
    const timeout = Number.isInteger(metadata.paymentTimeoutMs) && metadata.paymentTimeoutMs >= 0
      ? metadata.paymentTimeoutMs
      : DEFAULT_TIMEOUT_MS;
    const next = { status: "reserving", units: data.itemCount, amount: data.total, timeoutMs: timeout };
    return step(next, [stock(order, "Reserve", { orderId: order, units: next.units })], false);
  }
  if (state.status === "awaiting-payment") {
    const ends = {
      PaymentSucceeded: ["paid", "Commit"],
      PaymentFailed: ["payment-failed", "Release"],
      PaymentExpired: ["timed-out", "Release"],
    }[event.eventType];
    if (ends) {
      const [status, type] = ends;
      return step({ ...state, status }, [stock(order, type, id)], true);
    }
  }
  return step(state, [], false);
}

function onOutcome(order, state, outcome) {
  const type = parse(outcome.command.command, "the command").type;
  if (state.status === "reserving" && type === "Reserve") {
    if (outcome.reply.tag === "accepted") {
      const next = { ...state, status: "awaiting-payment" };
      const expire = payment(order, "Expire", { orderId: order });
      expire.delayMs = state.timeoutMs;
      return step(next, [payment(order, "Request", { orderId: order, amount: state.amount }), expire], false);
    }
    return step({ ...state, status: "out-of-stock" }, [], true);
  }
  return step(state, [], false);
}

// The `refold:domain/workflow` export. A thrown value is the `err` case of a result.
export const workflow = {
  eventTypes() {
    return EVENT_TYPES;
  },

  initialState() {
    return JSON.stringify({ status: "new", units: 0, amount: 0, timeoutMs: 0 });
  },

  instanceOf(event) {
    const data = parse(event.data, `event ${event.globalPosition}`);
    return event.eventType === "CartConfirmed" ? data.cartId : data.orderId;
  },

  handle(instance, stateText, input) {
    const state = parse(stateText, "the state");
    return input.tag === "event" ? onEvent(instance, state, input.val) : onOutcome(instance, state, input.val);
  },
};
