"""The cart-summary projection, in Python.

One document per cart in the `cart_summary` collection with the cart's item count,
total and status: the same documents, byte for byte, as the Rust projection
(`examples/cart-summary`). Built with componentize-py against the `projection-module`
world of `wit/` by `examples/build-polyglot.sh`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import documents
from wit_world.imports.types import Event, Query

COLLECTION = "cart_summary"
U64_MAX = 2**64 - 1

# The fields this projection reads from each event's data.
CART_REF = (("cartId", str),)
ITEM_CHANGE = (("cartId", str), ("quantity", int), ("unitPrice", int))
READS = {
    "CartOpened": CART_REF,
    "ItemAdded": ITEM_CHANGE,
    "ItemRemoved": ITEM_CHANGE,
    "CartConfirmed": CART_REF,
}
SUMMARY = (("cartId", str), ("itemCount", int), ("total", int), ("status", str))


class Unreadable(Exception):
    """A JSON value is not of the shape the projection expects."""


def read_fields(value, fields):
    """The `fields` of the JSON object `value`, in their order; other keys are ignored."""
    if not isinstance(value, dict):
        raise Unreadable(f"expected a JSON object, found {encode(value)}")
    read = {}
    for name, kind in fields:
        if name not in value:
            raise Unreadable(f"missing field `{name}`")
        field = value[name]
        if kind is int:
            if type(field) is not int or not 0 <= field <= U64_MAX:
                raise Unreadable(f"field `{name}` must be an unsigned 64-bit integer")
        elif not isinstance(field, kind):
            raise Unreadable(f"field `{name}` must be a JSON {kind.__name__}")
        read[name] = field
    return read


def encode(value):
    """Compact JSON, UTF-8 kept as is: the text serde_json writes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_event(event: Event):
    try:
        fields = READS.get(event.event_type)
        if fields is None:
            raise Unreadable(
                f"unknown variant `{event.event_type}`, expected one of "
                + ", ".join(f"`{t}`" for t in READS)
            )
        return read_fields(json.loads(event.data), fields)
    except (ValueError, Unreadable) as error:
        raise Err(
            f"event {event.global_position} ({event.event_type} at "
            f"{event.stream_position} of {event.stream_id}) cannot be read: {error}"
        ) from error


def summary_of(cart_id):
    """The stored summary of `cart_id`; an error if there is none or it cannot be read."""
    text = documents.get(COLLECTION, cart_id)
    if text is None:
        raise Err(f"no summary for cart {cart_id}: its CartOpened was not applied")
    try:
        return read_fields(json.loads(text), SUMMARY)
    except (ValueError, Unreadable) as error:
        raise Err(
            f"document {COLLECTION}/{cart_id} is not the expected shape: {error}"
        ) from error


def apply(event_type, data):
    cart_id = data["cartId"]
    if event_type == "CartOpened":
        summary = {"cartId": cart_id, "itemCount": 0, "total": 0, "status": "open"}
    else:
        summary = summary_of(cart_id)
        if event_type == "ItemAdded":
            summary["itemCount"] += data["quantity"]
            summary["total"] += data["quantity"] * data["unitPrice"]
        elif event_type == "ItemRemoved":
            summary["itemCount"] = max(summary["itemCount"] - data["quantity"], 0)
            summary["total"] = max(summary["total"] - data["quantity"] * data["unitPrice"], 0)
        else:
            summary["status"] = "confirmed"
    documents.put(COLLECTION, cart_id, encode(summary))


class Projection(exports.Projection):
    """The `refold:domain/projection` export."""

    def event_types(self) -> list[str]:
        return list(READS)

    def event_query(self) -> Query | None:
        # The event types choose what it reads; it declares no query.
        return None

    def apply(self, events: list[Event]) -> None:
        for event in events:
            apply(event.event_type, read_event(event))
