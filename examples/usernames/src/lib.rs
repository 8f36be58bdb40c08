//! Unique usernames: a rule over every account, as a query decider.
//!
//! No account's stream can say whether a name is free: another account may have
//! claimed it. The decider's consistency boundary is therefore the query "events
//! tagged `username:<name>`" (plus the claiming account's own events, for its one
//! name): the engine appends a claim on condition that nothing new matched since it
//! was read, so two accounts racing for one name can never both get it.
//!
//! Events go to the account's stream (`account-<id>`) and carry the tags of the
//! username and the account.

use refold_guest::{Context, Query, QueryDecider, Rejection, Tagged};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest username accepted, in characters.
pub const MAX_USERNAME_CHARS: usize = 32;

/// Who holds which name, as far as a command's query found out.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Holders {
    /// Username -> the account holding it.
    by_name: BTreeMap<String, String>,
    /// Account -> the username it holds.
    by_account: BTreeMap<String, String>,
}

/// The commands.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum Command {
    /// Give an account a username no other account holds; an account holds one at a time.
    ClaimUsername {
        /// The account.
        account_id: String,
        /// The name it wants.
        username: String,
    },
    /// Let the name an account holds go, so another account may claim it.
    ReleaseUsername {
        /// The account.
        account_id: String,
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
        /// The name.
        username: String,
    },
    /// An account let its username go.
    UsernameReleased {
        /// The account.
        account_id: String,
        /// The name.
        username: String,
    },
}

const EVENTS: &[&str] = &["UsernameClaimed", "UsernameReleased"];

fn username_tag(username: &str) -> String {
    format!("username:{username}")
}

fn account_tag(account: &str) -> String {
    format!("account:{account}")
}

/// The query decider of usernames.
pub struct Usernames;

impl QueryDecider for Usernames {
    type State = Holders;
    type Command = Command;
    type Event = Event;

    fn initial_state() -> Holders {
        Holders::default()
    }

    fn query(command: &Command) -> Query {
        match command {
            Command::ClaimUsername {
                account_id,
                username,
            } => Query::of(EVENTS, &[&username_tag(username)])
                .or(EVENTS, &[&account_tag(account_id)]),
            Command::ReleaseUsername { account_id } => {
                Query::of(EVENTS, &[&account_tag(account_id)])
            }
        }
    }

    fn evolve(mut state: Holders, event: Event) -> Holders {
        match event {
            Event::UsernameClaimed {
                account_id,
                username,
            } => {
                state.by_name.insert(username.clone(), account_id.clone());
                state.by_account.insert(account_id, username);
            }
            Event::UsernameReleased {
                account_id,
                username,
            } => {
                state.by_name.remove(&username);
                state.by_account.remove(&account_id);
            }
        }
        state
    }

    fn decide(
        command: Command,
        state: &Holders,
        _context: &Context,
    ) -> Result<Vec<Tagged<Event>>, Rejection> {
        match command {
            Command::ClaimUsername {
                account_id,
                username,
            } => {
                let chars = username.chars().count();
                if chars == 0 || chars > MAX_USERNAME_CHARS {
                    return Err(Rejection::invalid_command(format!(
                        "a username has 1 to {MAX_USERNAME_CHARS} characters, not {chars}"
                    )));
                }
                match state.by_name.get(&username) {
                    Some(holder) if *holder == account_id => return Ok(Vec::new()),
                    Some(_) => {
                        return Err(Rejection::new(format!("username {username} is taken")));
                    }
                    None => {}
                }
                if let Some(held) = state.by_account.get(&account_id) {
                    return Err(Rejection::new(format!(
                        "account {account_id} holds username {held} already: release it first"
                    )));
                }
                Ok(vec![tagged(
                    &account_id,
                    &username,
                    Event::UsernameClaimed {
                        account_id: account_id.clone(),
                        username: username.clone(),
                    },
                )])
            }
            Command::ReleaseUsername { account_id } => {
                let Some(username) = state.by_account.get(&account_id) else {
                    return Err(Rejection::new(format!(
                        "account {account_id} holds no username"
                    )));
                };
                Ok(vec![tagged(
                    &account_id,
                    username,
                    Event::UsernameReleased {
                        account_id: account_id.clone(),
                        username: username.clone(),
                    },
                )])
            }
        }
    }
}

/// `event` in the account's stream, tagged with the username and the account.
fn tagged(account: &str, username: &str, event: Event) -> Tagged<Event> {
    Tagged::new(
        format!("account-{account}"),
        &[&username_tag(username), &account_tag(account)],
        event,
    )
}

refold_guest::export_query_decider!(Usernames);
