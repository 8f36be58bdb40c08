// The cart-summary projection, in JavaScript.
//
// One document per cart in the `cart_summary` collection with the cart's item count,
// total and status: the same documents, byte for byte, as the Rust projection
// (examples/cart-summary). One source builds with both engines (SpiderMonkey through
// componentize-js, QuickJS through componentize-qjs) by examples/build-polyglot.sh.

import * as documents from "refold:domain/documents@0.2.0";

const COLLECTION = "cart_summary";

// The fields this projection reads from each event's data.
const CART_REF = [["cartId", "string"]];
const ITEM_CHANGE = [
  ["cartId", "string"],
  ["quantity", "integer"],
  ["unitPrice", "integer"],
];
const READS = new Map([
  ["CartOpened", CART_REF],
  ["ItemAdded", ITEM_CHANGE],
  ["ItemRemoved", ITEM_CHANGE],
  ["CartConfirmed", CART_REF],
]);
const SUMMARY = [
  ["cartId", "string"],
  ["itemCount", "integer"],
  ["total", "integer"],
  ["status", "string"],
];

/** A JSON value is not of the shape the projection expects. */
class Unreadable extends Error {}

/** The `fields` of the JSON object `value`, in their order; other keys are ignored. */
function readFields(value, fields) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Unreadable(`expected a JSON object, found ${JSON.stringify(value)}`);
  }
  const read = {};
  for (const [name, kind] of fields) {
    if (!Object.hasOwn(value, name)) {
      throw new Unreadable(`missing field \`${name}\``);
    }
    const field = value[name];
    if (kind === "integer") {
      if (!Number.isSafeInteger(field) || field < 0) {
        throw new Unreadable(`field \`${name}\` must be an unsigned integer below 2^53`);
      }
    } else if (typeof field !== kind) {
      throw new Unreadable(`field \`${name}\` must be a JSON ${kind}`);
    }
    read[name] = field;
  }
  return read;
}

/** `fields` read from the JSON `text`; a syntax error or a wrong shape is Unreadable. */
function readJson(text, fields) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Unreadable(error.message);
  }
  return readFields(value, fields);
}

function readEvent(event) {
  try {
    const fields = READS.get(event.eventType);
    if (fields === undefined) {
      const expected = [...READS.keys()].map((t) => `\`${t}\``).join(", ");
      throw new Unreadable(`unknown variant \`${event.eventType}\`, expected one of ${expected}`);
    }
    return readJson(event.data, fields);
  } catch (error) {
    if (error instanceof Unreadable) {
      throw `event ${event.globalPosition} (${event.eventType} at ${event.streamPosition} of ${event.streamId}) cannot be read: ${error.message}`;
    }
    throw error;
  }
}

/** The stored summary of `cartId`; throws the error text if there is none or it cannot be read. */
function summaryOf(cartId) {
  const text = documents.get(COLLECTION, cartId);
  if (text === undefined || text === null) {
    throw `no summary for cart ${cartId}: its CartOpened was not applied`;
  }
  try {
    return readJson(text, SUMMARY);
  } catch (error) {
    if (error instanceof Unreadable) {
      throw `document ${COLLECTION}/${cartId} is not the expected shape: ${error.message}`;
    }
    throw error;
  }
}

function apply(type, data) {
  const { cartId } = data;
  let summary;
  if (type === "CartOpened") {
    summary = { cartId, itemCount: 0, total: 0, status: "open" };
  } else {
    summary = summaryOf(cartId);
    if (type === "ItemAdded") {
      summary.itemCount += data.quantity;
      summary.total += data.quantity * data.unitPrice;
    } else if (type === "ItemRemoved") {
      summary.itemCount = Math.max(summary.itemCount - data.quantity, 0);
      summary.total = Math.max(summary.total - data.quantity * data.unitPrice, 0);
    } else {
      summary.status = "confirmed";
    }
  }
  documents.put(COLLECTION, cartId, JSON.stringify(summary));
}

// The `refold:domain/projection` export. A thrown value is the `err` case of a result.
export const projection = {
  eventTypes() {
    return [...READS.keys()];
  },

  // The event types choose what it reads; it declares no query.
  eventQuery() {
    return undefined;
  },

  apply(events) {
    for (const event of events) {
      apply(event.eventType, readEvent(event));
    }
  },
};
