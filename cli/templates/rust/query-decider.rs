//! {{name}}: a query decider. A username is unique across accounts: the rule spans
//! streams, so the decider reads the events of one query (tag `username:<name>`) and
//! the engine appends on condition that nothing new matched it since.

use refold_guest::{Context, Query, QueryDecider, Rejection, Tagged};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What the query found: the usernames taken.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Taken {
    /// Usernames claimed so far.
    pub usernames: BTreeSet<String>,
}

/// The commands, as JSON `{"type": "Register", "data": {"accountId": "a1", "username": "ada"}}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum Command {
    /// Give an account a username.
    Register {
        /// The account.
        account_id: String,
        /// The username it wants.
        username: String,
    },
}

/// The events.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum Event {
    /// An account took a username.
    UsernameClaimed {
        /// The account.
        account_id: String,
        /// The username.
        username: String,
    },
}

/// The query decider.
pub struct Usernames;

impl QueryDecider for Usernames {
    type State = Taken;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Taken {
        Taken::default()
    }

    fn query(command: &Command) -> Query {
        let Command::Register { username, .. } = command;
        Query::of(&["UsernameClaimed"], &[&format!("username:{username}")])
    }

    fn evolve(mut state: Taken, event: Event) -> Taken {
        let Event::UsernameClaimed { username, .. } = event;
        state.usernames.insert(username);
        state
    }

    fn decide(
        command: Command,
        state: &Taken,
        _context: &Context,
    ) -> Result<Vec<Tagged<Event>>, Rejection> {
        let Command::Register {
            account_id,
            username,
        } = command;
        if state.usernames.contains(&username) {
            return Err(Rejection::new(format!("the username {username} is taken")));
        }
        let stream = format!("account-{account_id}");
        let tags = [
            format!("username:{username}"),
            format!("account:{account_id}"),
        ];
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        Ok(vec![Tagged::new(
            stream,
            &tags,
            Event::UsernameClaimed {
                account_id,
                username,
            },
        )])
    }
}

refold_guest::export_query_decider!(Usernames);
