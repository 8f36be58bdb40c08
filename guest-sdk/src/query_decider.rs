//! The write-side trait for rules that span entities: a decider over a query.

use crate::{Context, Rejection};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Write-side logic whose consistency boundary is a query over tagged events rather
/// than one stream (the Dynamic Consistency Boundary): "a course has at most 30
/// students and a student at most 5 courses", "a username is unique".
///
/// For each command the engine asks [`query`](QueryDecider::query) which events it
/// depends on, folds the matching events (in global order) with
/// [`evolve`](QueryDecider::evolve), calls [`decide`](QueryDecider::decide), and appends
/// the decided events on condition that no new event matches the query; if one did, it
/// reads again and decides again. `Command` and `Event` are serde enums in the
/// adjacently tagged representation, as for a [`Decider`](crate::Decider).
pub trait QueryDecider {
    /// What the decider knows after folding the events of a command's query.
    type State: Serialize + DeserializeOwned;
    /// The commands it understands.
    type Command: DeserializeOwned;
    /// The events it produces and folds.
    type Event: Serialize + DeserializeOwned;

    /// The state before any event.
    fn initial_state() -> Self::State;

    /// The events `command` depends on.
    fn query(command: &Self::Command) -> Query;

    /// Fold one event (of those the query matched, or one just decided) into the state.
    fn evolve(state: Self::State, event: Self::Event) -> Self::State;

    /// Decide which events `command` produces given `state`, each with the stream it
    /// is appended to and its tags, or reject it. `context.version` is the global
    /// position the query was read up to.
    fn decide(
        command: Self::Command,
        state: &Self::State,
        context: &Context,
    ) -> Result<Vec<Tagged<Self::Event>>, Rejection>;
}

/// A decided event with the stream it goes to and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged<E> {
    /// The stream to append it to, e.g. `course-c1`.
    pub stream: String,
    /// Its tags, e.g. `course:c1`, `student:s7`.
    pub tags: Vec<String>,
    /// The event.
    pub event: E,
}

impl<E> Tagged<E> {
    /// `event` for `stream`, with `tags`.
    pub fn new(stream: impl Into<String>, tags: &[&str], event: E) -> Self {
        Tagged {
            stream: stream.into(),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            event,
        }
    }
}

/// Which events a command depends on: those matching any of the items. A query with
/// no items matches every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The items, combined with OR.
    pub items: Vec<QueryItem>,
}

/// Events whose type is one of `types` (any type when empty) and that carry every tag
/// of `tags` (any tags when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryItem {
    /// Event types, any of which matches.
    pub types: Vec<String>,
    /// Tags, all of which an event must carry.
    pub tags: Vec<String>,
}

impl Query {
    /// A query of one item.
    pub fn of(types: &[&str], tags: &[&str]) -> Self {
        Query::default().or(types, tags)
    }

    /// The same query, also matching events of `types` carrying all of `tags`.
    pub fn or(mut self, types: &[&str], tags: &[&str]) -> Self {
        let owned = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        self.items.push(QueryItem {
            types: owned(types),
            tags: owned(tags),
        });
        self
    }
}
