"""{{name}}: a projection. The total of every counter, one document per stream in
the `totals` collection."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import documents

COLLECTION = "totals"


def encode(value):
    """Compact JSON, as the engine and the Rust SDK write it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Projection(exports.Projection):
    def event_types(self):
        return ["Added"]

    def event_query(self):
        # The event types choose what it reads; a query of types and tags could instead.
        return None

    def apply(self, events):
        for event in events:
            amount = json.loads(event.data).get("amount")
            if not isinstance(amount, int):
                raise Err(f"event {event.global_position} has no integer amount")
            text = documents.get(COLLECTION, event.stream_id)
            total = json.loads(text)["total"] if text is not None else 0
            documents.put(COLLECTION, event.stream_id, encode({"total": total + amount}))
