// {{name}}: a decider. A counter that never passes 100.

const LIMIT = 100;
// State crosses as bytes: UTF-8 JSON. QuickJS has no TextEncoder, so the engine's URI
// escapes do the UTF-8 work.
function toBytes(text) {
  return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
}

function fromBytes(bytes) {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return decodeURIComponent(escape(binary));
}

function encodeState(state) {
  return toBytes(JSON.stringify(state));
}

function decodeState(bytes) {
  return JSON.parse(fromBytes(bytes));
}

// The `refold:domain/decider` export. A thrown value is the `err` case of a result.
export const decider = {
  initialState() {
    return encodeState({ value: 0 });
  },

  evolve(state, events) {
    let { value } = decodeState(state);
    for (const event of events) {
      if (event.eventType !== "Added") {
        throw `event ${event.globalPosition}: unknown type ${event.eventType}`;
      }
      value += JSON.parse(event.data).amount;
    }
    return encodeState({ value });
  },

  // context: { streamId, partition, version, metadata (JSON text) }
  decide(context, state, commandText) {
    const { value } = decodeState(state);
    const command = JSON.parse(commandText);
    const amount = command.type === "Add" ? command.data?.amount : undefined;
    if (!Number.isInteger(amount)) {
      throw { tag: "invalid-command", val: `not a command this decider knows: ${commandText}` };
    }
    if (value + amount > LIMIT) {
      throw { tag: "rejected", val: `the counter would pass ${LIMIT} (it is ${value})` };
    }
    return [{ eventType: "Added", data: JSON.stringify({ amount }), metadata: null, streamId: null, tags: [] }];
  },
};
