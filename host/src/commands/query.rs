//! Commands for query deciders: a consistency boundary that is a query over tagged
//! events, not one stream (the Dynamic Consistency Boundary).
//!
//! The handler asks the guest which query a command depends on (`query-for`), reads
//! the events matching it in the command's partition (in global order, in pages),
//! folds them with `evolve`, and calls `decide` with the position it read up to. It
//! folds the decided events too (a failure fails the command with nothing written),
//! then appends them, grouped by the stream each names, in one atomic append under the
//! condition "no event matching the query after the position read". Events are
//! folded in their current shape, as the deployed upcasters make them (the condition
//! is checked on stored events, which new appends write in current shapes). When another
//! command got there first the condition fails: the handler reads the new matching
//! events, folds them, and decides again, up to `max_attempts` times. Folded states are
//! not cached: each command reads its query's events afresh.

use super::{CommandHandler, CommandOutcome, refused};
use crate::runtime::{DeciderContext, Module, NewEvent, Query as GuestQuery};
use crate::store::{
    AppendCondition, AppendRequest, Appends, ExpectedVersion, LogFilter, Query, QueryItem,
    RecordedEvent,
};
use crate::sync::blocking;
use crate::{Error, GuestFault, Result};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// Events read per page while folding a query's events.
const PAGE: usize = 1000;

impl CommandHandler {
    /// Handle `command` (JSON text) in `partition` with the query decider deployed as
    /// `decider`. The outcome lists every event appended, across the streams the
    /// decider named; its `stream_version` is that of the last one's stream.
    pub async fn handle_query(
        &self,
        decider: &str,
        partition: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let module = self.runtime.module(decider)?;
        if !module.is_query_decider() {
            return Err(Error::NotAQueryDecider {
                module: decider.to_owned(),
            });
        }
        super::check_command(decider, partition, &format!("{decider}-query"), command)?;
        let command: Arc<str> = command.into();
        let query = {
            let (module, partition, command) =
                (module.clone(), partition.to_owned(), command.clone());
            blocking(move || module.query_for(&partition, &command)).await??
        };
        let query = match query {
            Ok(query) => store_query(query),
            Err(refusal) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(refused(decider, refusal));
            }
        };
        let filter = LogFilter::query(query.clone()).in_partition(partition);
        let mut state = {
            let module = module.clone();
            blocking(move || module.initial_state()).await??
        };
        let mut read_to = 0;
        for attempt in 1..=self.config.max_attempts {
            (state, read_to) = self.fold_matching(&module, &filter, state, read_to).await?;
            let context = DeciderContext {
                stream_id: None,
                partition: partition.to_owned(),
                version: read_to,
                metadata: "{}".to_owned(),
            };
            let decided = {
                let (module, state, command) = (module.clone(), state.clone(), command.clone());
                blocking(move || module.decide_in(&context, &state, &command)).await??
            };
            let events = match decided {
                Ok(events) => events,
                Err(refusal) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    return Err(refused(decider, refusal));
                }
            };
            let outcome = |events, stream_version, position| CommandOutcome {
                events,
                stream_version,
                position,
                module: decider.to_owned(),
                module_version: module.info().version,
                attempts: attempt,
                command_id: String::new(),
                replayed: false,
            };
            if events.is_empty() {
                self.handled.fetch_add(1, Ordering::Relaxed);
                return Ok(outcome(Vec::new(), 0, None));
            }
            let pending = pending(decider, partition, events)?;
            {
                let (module, state, pending) = (module.clone(), state.clone(), pending.clone());
                blocking(move || {
                    let events: Vec<_> = pending.iter().map(Into::into).collect();
                    module.evolve(&state, &events)
                })
                .await??;
            }
            let appends =
                Appends::from(by_stream(partition, pending)).with_condition(AppendCondition {
                    fail_if_events_match: query.clone(),
                    after: Some(read_to),
                    partition: Some(partition.to_owned()),
                });
            match self.store.append_all(appends).await {
                Ok(appended) => {
                    self.handled.fetch_add(1, Ordering::Relaxed);
                    let stream_version = appended.last().map_or(0, |a| a.stream_version);
                    let position = appended.iter().map(|a| a.last_position).max();
                    let events = appended.into_iter().flat_map(|a| a.events).collect();
                    return Ok(outcome(events, stream_version, position));
                }
                Err(Error::AppendConditionFailed { .. }) => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                }
                Err(refused) => return Err(super::blame_guest(decider, refused)),
            }
        }
        Err(Error::TooManyConflicts {
            partition: partition.to_owned(),
            stream: format!("the query of {decider}"),
            attempts: self.config.max_attempts,
        })
    }

    /// Fold the events matching `filter` after `read_to`, in their current shape (the
    /// deployed upcasters'), into `state`: the new state and the position of the last
    /// stored event read.
    async fn fold_matching(
        &self,
        module: &Arc<Module>,
        filter: &LogFilter,
        mut state: Vec<u8>,
        mut read_to: u64,
    ) -> Result<(Vec<u8>, u64)> {
        let upcasters = self.runtime.upcasters().current();
        let stored = upcasters.stored_filter(filter);
        loop {
            let page = self.store.read_log(read_to, &stored, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok((state, read_to));
            };
            read_to = last.global_position;
            let full = page.len() == PAGE;
            let page = {
                let (upcasters, filter) = (upcasters.clone(), filter.clone());
                blocking(move || upcasters.upcast_filtered(page, &filter)).await??
            };
            self.events_folded
                .fetch_add(page.len() as u64, Ordering::Relaxed);
            let module = module.clone();
            state = blocking(move || {
                let events: Vec<_> = page.iter().map(Into::into).collect();
                module.evolve(&state, &events)
            })
            .await??;
            if !full {
                return Ok((state, read_to));
            }
        }
    }
}

/// The guest's query as the store reads it; no items means every event.
fn store_query(query: GuestQuery) -> Query {
    if query.items.is_empty() {
        return Query::all();
    }
    Query {
        items: query
            .items
            .into_iter()
            .map(|item| QueryItem {
                types: item.types,
                tags: item.tags,
            })
            .collect(),
    }
}

/// The decided `events` as `evolve` sees them before the append: ids assigned, each
/// in the stream it names, with stream and global positions 0 and recorded-at empty
/// (the store assigns those). A query decider must name every event's stream.
fn pending(module: &str, partition: &str, events: Vec<NewEvent>) -> Result<Vec<RecordedEvent>> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let Some(stream) = event.stream_id else {
                return Err(Error::Guest {
                    module: module.to_owned(),
                    function: "decide",
                    fault: GuestFault::Malformed(format!(
                        "event {index} names no stream: a query decider names the stream of every event it decides"
                    )),
                });
            };
            Ok(RecordedEvent {
                global_position: 0,
                partition: partition.to_owned(),
                stream,
                stream_position: 0,
                id: Uuid::now_v7(),
                event_type: event.event_type,
                data: event.data,
                metadata: event.metadata.unwrap_or_else(|| "{}".to_owned()),
                recorded_at: String::new(),
                tags: event.tags,
            })
        })
        .collect()
}

/// One append per stream, in the order each stream first appears, each under
/// `any` version: the query's condition is the guard.
fn by_stream(partition: &str, pending: Vec<RecordedEvent>) -> Vec<AppendRequest> {
    let mut appends: Vec<AppendRequest> = Vec::new();
    for event in pending {
        let stream = event.stream.clone();
        let data = super::event_data(event);
        match appends.iter_mut().find(|a| a.stream == stream) {
            Some(append) => append.events.push(data),
            None => appends.push(AppendRequest {
                partition: partition.to_owned(),
                stream,
                expected: ExpectedVersion::Any,
                events: vec![data],
            }),
        }
    }
    appends
}
