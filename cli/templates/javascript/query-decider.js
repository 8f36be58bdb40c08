// {{name}}: a query decider. A username is unique across accounts: the rule spans
// streams, so the decider reads the events of one query (tag `username:<name>`) and
// the engine appends on condition that nothing new matched it since.

// State crosses as bytes: UTF-8 JSON. QuickJS has no TextEncoder, so the engine's URI
// escapes do the UTF-8 work.
function toBytes(text) {
  return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
}

function fromBytes(bytes) {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return decodeURIComponent(escape(binary));
}

// The account and username of a `Register` command, else an invalid command.
function readRegister(commandText) {
  const command = JSON.parse(commandText);
  const { accountId, username } = command.data ?? {};
  if (command.type !== "Register" || typeof accountId !== "string" || typeof username !== "string") {
    throw { tag: "invalid-command", val: `not a command this decider knows: ${commandText}` };
  }
  return { accountId, username };
}

// The `refold:domain/query-decider` export. A thrown value is the `err` case of a result.
export const queryDecider = {
  initialState() {
    return toBytes(JSON.stringify({ usernames: [] }));
  },

  queryFor(partition, commandText) {
    const { username } = readRegister(commandText);
    return { items: [{ types: ["UsernameClaimed"], tags: [`username:${username}`] }] };
  },

  evolve(state, events) {
    const taken = new Set(JSON.parse(fromBytes(state)).usernames);
    for (const event of events) {
      if (event.eventType !== "UsernameClaimed") {
        throw `event ${event.globalPosition}: unknown type ${event.eventType}`;
      }
      taken.add(JSON.parse(event.data).username);
    }
    return toBytes(JSON.stringify({ usernames: [...taken].sort() }));
  },

  decide(context, state, commandText) {
    const { accountId, username } = readRegister(commandText);
    if (JSON.parse(fromBytes(state)).usernames.includes(username)) {
      throw { tag: "rejected", val: `the username ${username} is taken` };
    }
    return [
      {
        eventType: "UsernameClaimed",
        data: JSON.stringify({ accountId, username }),
        metadata: null,
        streamId: `account-${accountId}`,
        tags: [`username:${username}`, `account:${accountId}`],
      },
    ];
  },
};
