// The cart's upcaster, in JavaScript: version 1 `ItemAdded` and `ItemRemoved` (a
// `unitPrice` in cents) into version 2 (`price: {amount, currency}`), the same events,
// field for field, as the Rust upcaster (examples/cart-upcaster). Events already in
// the version 2 shape pass through unchanged. Built by examples/build-polyglot.sh.

// The currency of every version 1 price: an upcaster sees one event at a time, so it
// cannot look the cart's currency up.
const V1_CURRENCY = "EUR";

// The version 2 fields of each type, in order, and how each comes from version 1.
const SHAPES = new Map([
  ["ItemAdded", ["cartId", "sku", "name", "quantity", "price", "addedAt"]],
  ["ItemRemoved", ["cartId", "sku", "quantity", "price"]],
]);

function upcastOne(event) {
  const fields = SHAPES.get(event.eventType);
  let data;
  try {
    data = JSON.parse(event.data);
  } catch (error) {
    throw `event ${event.globalPosition} (${event.eventType}) is not JSON: ${error.message}`;
  }
  if (!Object.hasOwn(data, "unitPrice")) {
    return [{ eventType: event.eventType, data: event.data, metadata: undefined }];
  }
  const current = {};
  for (const name of fields) {
    if (name === "price") {
      current.price = { amount: data.unitPrice, currency: V1_CURRENCY };
    } else if (!Object.hasOwn(data, name)) {
      throw `event ${event.globalPosition} (${event.eventType}) has no field \`${name}\``;
    } else {
      current[name] = data[name];
    }
  }
  return [{ eventType: event.eventType, data: JSON.stringify(current), metadata: undefined }];
}

// The `refold:domain/upcaster` export. A thrown value is the `err` case of a result.
export const upcaster = {
  eventTypes() {
    return [...SHAPES.keys()];
  },

  upcast(events) {
    return events.map(upcastOne);
  },
};
