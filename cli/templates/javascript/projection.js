// {{name}}: a projection. The total of every counter, one document per stream in the
// `totals` collection.

import * as documents from "refold:domain/documents@0.2.0";

const COLLECTION = "totals";

// The `refold:domain/projection` export. A thrown string is the `err` case of a result.
export const projection = {
  eventTypes() {
    return ["Added"];
  },

  // The event types choose what it reads; a query of types and tags could instead.
  eventQuery() {
    return undefined;
  },

  apply(events) {
    for (const event of events) {
      const { amount } = JSON.parse(event.data);
      if (!Number.isInteger(amount)) {
        throw `event ${event.globalPosition} has no integer amount`;
      }
      const text = documents.get(COLLECTION, event.streamId);
      const total = text == null ? 0 : JSON.parse(text).total;
      documents.put(COLLECTION, event.streamId, JSON.stringify({ total: total + amount }));
    }
  },
};
