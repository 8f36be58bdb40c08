"""{{name}}: an upcaster. Version 1 of `Added` carried its amount as `value`; readers
see every `Added` with `amount`. Stored events are never rewritten."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import UpcastEvent


def encode(value):
    """Compact JSON, as the engine and the Rust SDK write it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def upcast_one(event):
    data = json.loads(event.data)
    if "amount" in data:
        # Already current: the same event. (metadata None keeps the stored one.)
        return [UpcastEvent(event.event_type, event.data, None)]
    if "value" not in data:
        raise Err(f"event {event.global_position} (Added) has neither `value` nor `amount`")
    return [UpcastEvent("Added", encode({"amount": data["value"]}), None)]


class Upcaster(exports.Upcaster):
    def event_types(self):
        return ["Added"]

    def upcast(self, events):
        return [upcast_one(event) for event in events]
