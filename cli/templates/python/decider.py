"""{{name}}: a decider. A counter that never passes 100."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import DecideError_InvalidCommand, DecideError_Rejected, NewEvent

LIMIT = 100


def encode(value):
    """Compact JSON, as the engine and the Rust SDK write it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Decider(exports.Decider):
    def initial_state(self) -> bytes:
        return encode({"value": 0}).encode()

    def evolve(self, state, events):
        value = json.loads(state)["value"]
        for event in events:
            if event.event_type != "Added":
                raise Err(f"event {event.global_position}: unknown type {event.event_type}")
            value += json.loads(event.data)["amount"]
        return encode({"value": value}).encode()

    def decide(self, context, state, command):
        # context.stream_id, context.partition, context.version, context.metadata (JSON text)
        value = json.loads(state)["value"]
        command = json.loads(command)
        amount = command.get("data", {}).get("amount") if command.get("type") == "Add" else None
        if not isinstance(amount, int):
            raise Err(DecideError_InvalidCommand(f"not a command this decider knows: {encode(command)}"))
        if value + amount > LIMIT:
            raise Err(DecideError_Rejected(f"the counter would pass {LIMIT} (it is {value})"))
        # NewEvent(type, data, metadata, stream_id, tags): the command's stream, no tags
        return [NewEvent("Added", encode({"amount": amount}), None, None, [])]
