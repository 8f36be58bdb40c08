// {{name}}: an upcaster. Version 1 of `Added` carried its amount as `value`; readers
// see every `Added` with `amount`. Stored events are never rewritten.

function upcastOne(event) {
  const data = JSON.parse(event.data);
  if (Object.hasOwn(data, "amount")) {
    // Already current: the same event (metadata undefined keeps the stored one).
    return [{ eventType: event.eventType, data: event.data, metadata: undefined }];
  }
  if (!Object.hasOwn(data, "value")) {
    throw `event ${event.globalPosition} (Added) has neither \`value\` nor \`amount\``;
  }
  return [{ eventType: "Added", data: JSON.stringify({ amount: data.value }), metadata: undefined }];
}

// The `refold:domain/upcaster` export. A thrown string is the `err` case of a result.
export const upcaster = {
  eventTypes() {
    return ["Added"];
  },

  upcast(events) {
    return events.map(upcastOne);
  },
};
