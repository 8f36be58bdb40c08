// The shopping-cart decider, in JavaScript.
//
// The same rules, events and rejection messages as the Rust cart (examples/cart), and
// the same state encoding (JSON, lines sorted by SKU), so the deciders can take over
// each other's states. One source builds with both engines (SpiderMonkey through
// componentize-js, QuickJS through jco) by examples/build-polyglot.sh, so it sticks to
// what both offer: no TextEncoder (QuickJS lacks it), and u64 record fields may be a
// BigInt (SpiderMonkey) or a number (QuickJS).

const PAYMENT_METHOD = "card";
const CONFIRMED_AT = "2024-01-01T00:10:00.000Z";

// The fields of each event's data and command's data, in the order the JSON lists them.
const CART_OPENED = [
  ["cartId", "string"],
  ["customerId", "string"],
  ["currency", "string"],
  ["channel", "string"],
  ["openedAt", "string"],
];
const ITEM_ADDED = [
  ["cartId", "string"],
  ["sku", "string"],
  ["name", "string"],
  ["quantity", "integer"],
  ["unitPrice", "integer"],
  ["addedAt", "string"],
];
const ITEM_REMOVED = [
  ["cartId", "string"],
  ["sku", "string"],
  ["quantity", "integer"],
  ["unitPrice", "integer"],
];
const CART_CONFIRMED = [
  ["cartId", "string"],
  ["itemCount", "integer"],
  ["total", "integer"],
  ["paymentMethod", "string"],
  ["confirmedAt", "string"],
];
const EVENTS = new Map([
  ["CartOpened", CART_OPENED],
  ["ItemAdded", ITEM_ADDED],
  ["ItemRemoved", ITEM_REMOVED],
  ["CartConfirmed", CART_CONFIRMED],
]);
const COMMANDS = new Map([
  ["OpenCart", CART_OPENED],
  ["AddItem", ITEM_ADDED],
  ["RemoveItem", [["cartId", "string"], ["sku", "string"]]],
  ["ConfirmCart", [["cartId", "string"]]],
]);
const STATE = [
  ["status", "string"],
  ["itemCount", "integer"],
  ["total", "integer"],
  ["lines", "object"],
];
const LINE = [
  ["quantity", "integer"],
  ["unitPrice", "integer"],
];
const STATUSES = ["empty", "open", "confirmed"];

/** A JSON value is not of the shape the cart expects. */
class Unreadable extends Error {}

/** A business rule refused a command. */
class Rejection extends Error {}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `fields` of the JSON object `value`, in their order; other keys are ignored. */
function readFields(value, fields) {
  if (!isObject(value)) {
    throw new Unreadable(`expected a JSON object, found ${JSON.stringify(value)}`);
  }
  const read = {};
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i];
    if (!Object.hasOwn(value, name)) {
      throw new Unreadable(`missing field \`${name}\``);
    }
    const field = value[name];
    if (kind === "integer") {
      if (!Number.isSafeInteger(field) || field < 0) {
        throw new Unreadable(`field \`${name}\` must be an unsigned integer below 2^53`);
      }
    } else if (kind === "object" ? !isObject(field) : typeof field !== kind) {
      throw new Unreadable(`field \`${name}\` must be a JSON ${kind}`);
    }
    read[name] = field;
  }
  return read;
}

function oneOf(kind, name, names) {
  const expected = [...names].map((n) => `\`${n}\``).join(", ");
  return new Unreadable(`unknown ${kind} \`${name}\`, expected one of ${expected}`);
}

/** Parse JSON text; a syntax error becomes Unreadable. */
function parse(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Unreadable(error.message);
  }
}

function initialState() {
  return { status: "empty", itemCount: 0, total: 0, lines: new Map() };
}

function decodeState(bytes) {
  try {
    const state = readFields(parse(decodeUtf8(bytes)), STATE);
    if (!STATUSES.includes(state.status)) {
      throw oneOf("status", state.status, STATUSES);
    }
    state.lines = new Map(
      Object.entries(state.lines).map(([sku, line]) => [sku, readFields(line, LINE)]),
    );
    return state;
  } catch (error) {
    if (error instanceof Unreadable) {
      throw new Unreadable(`the state passed in cannot be decoded: ${error.message}`);
    }
    throw error;
  }
}

/** Order strings by Unicode code point, as Rust orders the UTF-8 keys of a BTreeMap. */
function byCodePoint(a, b) {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) {
      return x - y;
    }
    if (x > 0xffff) {
      i++;
    }
  }
  return a.length - b.length;
}

// Keys with surrogate pairs are the only ones whose UTF-16 order (the engine's own
// sort) differs from code point order.
const SURROGATE = /[\ud800-\udfff]/;

function encodeState(state) {
  const skus = [...state.lines.keys()];
  skus.sort(skus.some((sku) => SURROGATE.test(sku)) ? byCodePoint : undefined);
  let lines = "";
  for (let i = 0; i < skus.length; i++) {
    const line = state.lines.get(skus[i]);
    lines += `${i === 0 ? "" : ","}${JSON.stringify(skus[i])}:{"quantity":${line.quantity},"unitPrice":${line.unitPrice}}`;
  }
  return encodeUtf8(
    `{"status":"${state.status}","itemCount":${state.itemCount},"total":${state.total},"lines":{${lines}}}`,
  );
}

// SpiderMonkey has TextEncoder and TextDecoder; QuickJS has neither, so there the
// engine's URI escapes do the UTF-8 work and a loop copies the bytes.
const encoder = typeof TextEncoder === "function" ? new TextEncoder() : null;
const decoder = typeof TextDecoder === "function" ? new TextDecoder("utf-8", { fatal: true }) : null;
const ASCII = /^[\x00-\x7f]*$/;

/** The UTF-8 bytes of `text`. */
function encodeUtf8(text) {
  if (encoder !== null) {
    return encoder.encode(text);
  }
  const binary = ASCII.test(text) ? text : unescape(encodeURIComponent(text));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** The text of the UTF-8 `bytes`; Unreadable if they are not UTF-8. */
function decodeUtf8(bytes) {
  try {
    if (decoder !== null) {
      return decoder.decode(bytes);
    }
    let binary = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    }
    return ASCII.test(binary) ? binary : decodeURIComponent(escape(binary));
  } catch {
    throw new Unreadable("the bytes are not UTF-8");
  }
}

function readEvent(event) {
  try {
    const fields = EVENTS.get(event.eventType);
    if (fields === undefined) {
      throw oneOf("variant", event.eventType, EVENTS.keys());
    }
    return readFields(parse(event.data), fields);
  } catch (error) {
    if (error instanceof Unreadable) {
      throw `event ${event.globalPosition} (${event.eventType} at ${event.streamPosition} of ${event.streamId}) cannot be read: ${error.message}`;
    }
    throw error;
  }
}

function readCommand(text) {
  const command = parse(text);
  if (!isObject(command)) {
    throw new Unreadable(`expected a JSON object, found ${text}`);
  }
  const { type } = readFields(command, [["type", "string"]]);
  const fields = COMMANDS.get(type);
  if (fields === undefined) {
    throw oneOf("variant", type, COMMANDS.keys());
  }
  if (!Object.hasOwn(command, "data")) {
    throw new Unreadable("missing field `data`");
  }
  return [type, readFields(command.data, fields)];
}

function evolve(state, type, data) {
  if (type === "CartOpened") {
    state.status = "open";
  } else if (type === "ItemAdded") {
    const { quantity, unitPrice } = data;
    state.itemCount += quantity;
    state.total += quantity * unitPrice;
    const line = state.lines.get(data.sku) ?? { quantity: 0, unitPrice };
    line.quantity += quantity;
    line.unitPrice = unitPrice;
    state.lines.set(data.sku, line);
  } else if (type === "ItemRemoved") {
    state.itemCount -= data.quantity;
    state.total -= data.quantity * data.unitPrice;
    state.lines.delete(data.sku);
  } else {
    state.status = "confirmed";
  }
}

function requireOpen(state, cartId, action) {
  if (state.status === "empty") {
    throw new Rejection(`cannot ${action} cart ${cartId}: it is not open`);
  }
  if (state.status === "confirmed") {
    throw new Rejection(`cannot ${action} cart ${cartId}: it is already confirmed`);
  }
}

/** The events `type` with `data` produces given `state`, as [type, data] pairs. */
function decide(type, data, state) {
  const { cartId } = data;
  if (type === "OpenCart") {
    if (state.status !== "empty") {
      throw new Rejection(`cart ${cartId} is already open`);
    }
    return [["CartOpened", data]];
  }
  if (type === "AddItem") {
    requireOpen(state, cartId, "add an item to");
    if (data.quantity === 0) {
      throw new Rejection(`cannot add 0 units of ${data.sku}`);
    }
    return [["ItemAdded", data]];
  }
  if (type === "RemoveItem") {
    requireOpen(state, cartId, "remove an item from");
    const line = state.lines.get(data.sku);
    if (line === undefined) {
      throw new Rejection(`cart ${cartId} has no item ${data.sku}`);
    }
    return [["ItemRemoved", { cartId, sku: data.sku, quantity: line.quantity, unitPrice: line.unitPrice }]];
  }
  requireOpen(state, cartId, "confirm");
  if (state.itemCount === 0) {
    throw new Rejection(`cart ${cartId} is empty`);
  }
  return [
    [
      "CartConfirmed",
      {
        cartId,
        itemCount: state.itemCount,
        total: state.total,
        paymentMethod: PAYMENT_METHOD,
        confirmedAt: CONFIRMED_AT,
      },
    ],
  ];
}

// The `refold:domain/decider` export. A thrown value is the `err` case of a result.
export const decider = {
  initialState() {
    return encodeState(initialState());
  },

  evolve(stateBytes, events) {
    let state;
    try {
      state = decodeState(stateBytes);
    } catch (error) {
      throw error instanceof Unreadable ? error.message : error;
    }
    for (const event of events) {
      evolve(state, event.eventType, readEvent(event));
    }
    return encodeState(state);
  },

  decide(_context, stateBytes, commandText) {
    let state;
    let type;
    let data;
    try {
      state = decodeState(stateBytes);
    } catch (error) {
      throw error instanceof Unreadable ? { tag: "invalid-command", val: error.message } : error;
    }
    try {
      [type, data] = readCommand(commandText);
    } catch (error) {
      if (error instanceof Unreadable) {
        throw {
          tag: "invalid-command",
          val: `the command is not a known command as JSON {"type": ..., "data": {...}}: ${error.message}`,
        };
      }
      throw error;
    }
    try {
      return decide(type, data, state).map(([eventType, eventData]) => ({
        eventType,
        data: JSON.stringify(eventData),
        metadata: null,
        streamId: null,
        tags: [],
      }));
    } catch (error) {
      throw error instanceof Rejection ? { tag: "rejected", val: error.message } : error;
    }
  },
};
