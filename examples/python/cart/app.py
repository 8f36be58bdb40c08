"""The shopping-cart decider, in Python.

The same rules, events and rejection messages as the Rust cart (`examples/cart`), and
the same state encoding (JSON, lines sorted by SKU), so the two deciders can take over
each other's states. Built with componentize-py against the `decider-module` world of
`wit/` by `examples/build-polyglot.sh`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    DecideError_InvalidCommand,
    DecideError_Rejected,
    DeciderContext,
    Event,
    NewEvent,
)

PAYMENT_METHOD = "card"
CONFIRMED_AT = "2024-01-01T00:10:00.000Z"
U64_MAX = 2**64 - 1

# The fields of each event's data and command's data, in the order the JSON lists them.
CART_OPENED = (
    ("cartId", str),
    ("customerId", str),
    ("currency", str),
    ("channel", str),
    ("openedAt", str),
)
ITEM_ADDED = (
    ("cartId", str),
    ("sku", str),
    ("name", str),
    ("quantity", int),
    ("unitPrice", int),
    ("addedAt", str),
)
ITEM_REMOVED = (("cartId", str), ("sku", str), ("quantity", int), ("unitPrice", int))
CART_CONFIRMED = (
    ("cartId", str),
    ("itemCount", int),
    ("total", int),
    ("paymentMethod", str),
    ("confirmedAt", str),
)
EVENTS = {
    "CartOpened": CART_OPENED,
    "ItemAdded": ITEM_ADDED,
    "ItemRemoved": ITEM_REMOVED,
    "CartConfirmed": CART_CONFIRMED,
}
COMMANDS = {
    "OpenCart": CART_OPENED,
    "AddItem": ITEM_ADDED,
    "RemoveItem": (("cartId", str), ("sku", str)),
    "ConfirmCart": (("cartId", str),),
}
STATE = (("status", str), ("itemCount", int), ("total", int), ("lines", dict))
LINE = (("quantity", int), ("unitPrice", int))
STATUSES = ("empty", "open", "confirmed")


class Unreadable(Exception):
    """A JSON value is not of the shape the cart expects."""


class Rejection(Exception):
    """A business rule refused a command."""


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


def one_of(kind, name, names):
    return Unreadable(
        f"unknown {kind} `{name}`, expected one of "
        + ", ".join(f"`{n}`" for n in names)
    )


def encode(value):
    """Compact JSON, UTF-8 kept as is: the text serde_json writes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def initial_state():
    return {"status": "empty", "itemCount": 0, "total": 0, "lines": {}}


def decode_state(state):
    try:
        decoded = read_fields(json.loads(state), STATE)
        if decoded["status"] not in STATUSES:
            raise one_of("status", decoded["status"], STATUSES)
        decoded["lines"] = {
            sku: read_fields(line, LINE) for sku, line in decoded["lines"].items()
        }
        return decoded
    except (ValueError, Unreadable) as error:
        raise Unreadable(f"the state passed in cannot be decoded: {error}") from error


def encode_state(state):
    lines = state["lines"]
    return encode({**state, "lines": {sku: lines[sku] for sku in sorted(lines)}}).encode()


def read_event(event: Event):
    try:
        fields = EVENTS.get(event.event_type)
        if fields is None:
            raise one_of("variant", event.event_type, EVENTS)
        return read_fields(json.loads(event.data), fields)
    except (ValueError, Unreadable) as error:
        raise Err(
            f"event {event.global_position} ({event.event_type} at "
            f"{event.stream_position} of {event.stream_id}) cannot be read: {error}"
        ) from error


def read_command(command):
    value = json.loads(command)
    if not isinstance(value, dict):
        raise Unreadable(f"expected a JSON object, found {encode(value)}")
    command_type = read_fields(value, (("type", str),))["type"]
    fields = COMMANDS.get(command_type)
    if fields is None:
        raise one_of("variant", command_type, COMMANDS)
    if "data" not in value:
        raise Unreadable("missing field `data`")
    return command_type, read_fields(value["data"], fields)


def evolve(state, event_type, data):
    if event_type == "CartOpened":
        state["status"] = "open"
    elif event_type == "ItemAdded":
        quantity, unit_price = data["quantity"], data["unitPrice"]
        state["itemCount"] += quantity
        state["total"] += quantity * unit_price
        line = state["lines"].setdefault(
            data["sku"], {"quantity": 0, "unitPrice": unit_price}
        )
        line["quantity"] += quantity
        line["unitPrice"] = unit_price
    elif event_type == "ItemRemoved":
        state["itemCount"] -= data["quantity"]
        state["total"] -= data["quantity"] * data["unitPrice"]
        state["lines"].pop(data["sku"], None)
    else:
        state["status"] = "confirmed"


def require_open(state, cart_id, action):
    if state["status"] == "empty":
        raise Rejection(f"cannot {action} cart {cart_id}: it is not open")
    if state["status"] == "confirmed":
        raise Rejection(f"cannot {action} cart {cart_id}: it is already confirmed")


def decide(command_type, data, state):
    """The events `command_type` with `data` produces given `state`, as (type, data) pairs."""
    cart_id = data["cartId"]
    if command_type == "OpenCart":
        if state["status"] != "empty":
            raise Rejection(f"cart {cart_id} is already open")
        return [("CartOpened", data)]
    if command_type == "AddItem":
        require_open(state, cart_id, "add an item to")
        if data["quantity"] == 0:
            raise Rejection(f"cannot add 0 units of {data['sku']}")
        return [("ItemAdded", data)]
    if command_type == "RemoveItem":
        require_open(state, cart_id, "remove an item from")
        line = state["lines"].get(data["sku"])
        if line is None:
            raise Rejection(f"cart {cart_id} has no item {data['sku']}")
        removed = {"cartId": cart_id, "sku": data["sku"], **line}
        return [("ItemRemoved", removed)]
    require_open(state, cart_id, "confirm")
    if state["itemCount"] == 0:
        raise Rejection(f"cart {cart_id} is empty")
    confirmed = {
        "cartId": cart_id,
        "itemCount": state["itemCount"],
        "total": state["total"],
        "paymentMethod": PAYMENT_METHOD,
        "confirmedAt": CONFIRMED_AT,
    }
    return [("CartConfirmed", confirmed)]


class Decider(exports.Decider):
    """The `refold:domain/decider` export."""

    def initial_state(self) -> bytes:
        return encode_state(initial_state())

    def evolve(self, state: bytes, events: list[Event]) -> bytes:
        try:
            current = decode_state(state)
        except Unreadable as error:
            raise Err(str(error)) from error
        for event in events:
            evolve(current, event.event_type, read_event(event))
        return encode_state(current)

    def decide(self, context: DeciderContext, state: bytes, command: str) -> list[NewEvent]:
        try:
            current = decode_state(state)
        except Unreadable as error:
            raise Err(DecideError_InvalidCommand(str(error))) from error
        try:
            command_type, data = read_command(command)
        except (ValueError, Unreadable) as error:
            raise Err(
                DecideError_InvalidCommand(
                    'the command is not a known command as JSON {"type": ..., "data": {...}}: '
                    f"{error}"
                )
            ) from error
        try:
            decided = decide(command_type, data, current)
        except Rejection as rejection:
            raise Err(DecideError_Rejected(str(rejection))) from rejection
        return [NewEvent(event_type, encode(data), None, None, []) for event_type, data in decided]
