"""{{name}}: a query decider. A username is unique across accounts: the rule spans
streams, so the decider reads the events of one query (tag `username:<name>`) and the
engine appends on condition that nothing new matched it since."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    DecideError_InvalidCommand,
    DecideError_Rejected,
    NewEvent,
    Query,
    QueryItem,
)


def encode(value):
    """Compact JSON, as the engine and the Rust SDK write it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_register(command):
    """The account and username of a `Register` command, else an invalid command."""
    command = json.loads(command)
    data = command.get("data") or {}
    account, username = data.get("accountId"), data.get("username")
    if command.get("type") != "Register" or not isinstance(account, str) or not isinstance(username, str):
        raise Err(DecideError_InvalidCommand(f"not a command this decider knows: {encode(command)}"))
    return account, username


class QueryDecider(exports.QueryDecider):
    def initial_state(self) -> bytes:
        return encode({"usernames": []}).encode()

    def query_for(self, partition, command):
        _, username = read_register(command)
        return Query([QueryItem(["UsernameClaimed"], [f"username:{username}"])])

    def evolve(self, state, events):
        taken = json.loads(state)["usernames"]
        for event in events:
            if event.event_type != "UsernameClaimed":
                raise Err(f"event {event.global_position}: unknown type {event.event_type}")
            taken.append(json.loads(event.data)["username"])
        return encode({"usernames": sorted(set(taken))}).encode()

    def decide(self, context, state, command):
        account, username = read_register(command)
        if username in json.loads(state)["usernames"]:
            raise Err(DecideError_Rejected(f"the username {username} is taken"))
        data = encode({"accountId": account, "username": username})
        tags = [f"username:{username}", f"account:{account}"]
        # NewEvent(type, data, metadata, stream_id, tags): a query decider names the stream
        return [NewEvent("UsernameClaimed", data, None, f"account-{account}", tags)]
