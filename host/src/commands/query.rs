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
//!
//! The command comes as an envelope, as a stream decider's does: its metadata goes to
//! the decider's context and onto every event, and a command with an id is answered
//! once, from a record that names no stream.

use super::prepared::{Appended, Prepared};
use super::{CommandHandler, CommandOutcome, CommandRequest, refused};
use crate::failpoint::Failpoint;
use crate::runtime::{DeciderContext, Module, NewEvent};
use crate::store::{
    AppendCondition, AppendRequest, Appends, ExpectedVersion, LogFilter, Query, RecordedEvent,
    RecordedOutcome,
};
use crate::sync::blocking;
use crate::{Error, GuestFault, Result};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Events read per page while folding a query's events.
const PAGE: usize = 1000;

impl CommandHandler {
    /// Handle `command` (a command envelope, JSON text) in `partition` with the query
    /// decider deployed as `decider`. The outcome lists every event appended, across
    /// the streams the decider named; its `stream_version` is that of the last one's
    /// stream.
    pub async fn handle_query(
        &self,
        decider: &str,
        partition: &str,
        command: &str,
    ) -> Result<CommandOutcome> {
        let request = CommandRequest::query(command).in_partition(partition);
        self.handle_query_request(decider, request).await
    }

    /// Handle `request` (made with [`CommandRequest::query`]: it names no stream) with
    /// the query decider deployed as `decider`. A command with an id is answered once,
    /// as a stream decider's is.
    pub async fn handle_query_request(
        &self,
        decider: &str,
        request: CommandRequest,
    ) -> Result<CommandOutcome> {
        let partition = request.partition.clone();
        let command = self.decide_and_append_by_query(decider, request);
        self.measured(decider, "", &partition, command).await
    }

    /// Handle `request` with the query decider `decider`: read its boundary, decide,
    /// append under the condition that nothing of the boundary changed.
    async fn decide_and_append_by_query(
        &self,
        decider: &str,
        request: CommandRequest,
    ) -> Result<CommandOutcome> {
        let module = self.runtime.module(decider)?;
        if !module.is_query_decider() {
            return Err(Error::NotAQueryDecider {
                module: decider.to_owned(),
            });
        }
        let named = format!("{decider}-query");
        let prepared = Prepared::new(decider, module.info().version, request, &named)?;
        module.check_command(&prepared.command)?;
        if let Some(replayed) = self.recorded(&prepared).await? {
            return Ok(replayed);
        }
        let partition = prepared.partition.as_str();
        let query = {
            let (module, partition, command) = (
                module.clone(),
                partition.to_owned(),
                prepared.command.clone(),
            );
            blocking(move || module.query_for(&partition, &command)).await??
        };
        let query = match query {
            Ok(query) => Query::from(query),
            Err(refusal) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return self
                    .rejection(&prepared, 1, refused(decider, refusal))
                    .await;
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
                metadata: prepared.context.to_string(),
            };
            let decided = {
                let (module, state, command) =
                    (module.clone(), state.clone(), prepared.command.clone());
                blocking(move || module.decide_in(&context, &state, &command)).await??
            };
            let events = match decided {
                Ok(events) => events,
                Err(refusal) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    return self
                        .rejection(&prepared, attempt, refused(decider, refusal))
                        .await;
                }
            };
            if events.is_empty() {
                let nothing = RecordedOutcome::Decided {
                    stream_version: 0,
                    positions: None,
                };
                if let Some(first) = self.record_outcome(&prepared, attempt, nothing).await? {
                    return Ok(first);
                }
                self.handled.fetch_add(1, Ordering::Relaxed);
                return Ok(prepared.outcome(attempt, Vec::new(), 0, None));
            }
            let pending = pending(&prepared, events)?;
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
            match self.append_command(&prepared, attempt, appends).await {
                Ok(Appended::Now(appended)) => {
                    Failpoint::CommandAfterAppend.reached();
                    self.handled.fetch_add(1, Ordering::Relaxed);
                    let stream_version = appended.last().map_or(0, |a| a.stream_version);
                    let position = appended.iter().map(|a| a.last_position).max();
                    let events = appended.into_iter().flat_map(|a| a.events).collect();
                    return Ok(prepared.outcome(attempt, events, stream_version, position));
                }
                Ok(Appended::Replayed(first)) => return Ok(first),
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

/// The events decided for the `prepared` command as `evolve` sees them before the
/// append: ids assigned and the command's metadata merged into theirs, each in the
/// stream it names, with stream and global positions 0 and recorded-at empty (the
/// store assigns those). A query decider must name every event's stream.
fn pending(prepared: &Prepared, events: Vec<NewEvent>) -> Result<Vec<RecordedEvent>> {
    (0u64..)
        .zip(events)
        .map(|(index, event)| {
            let Some(stream) = event.stream_id else {
                return Err(Error::Guest {
                    module: prepared.decider.clone(),
                    function: "decide",
                    fault: GuestFault::Malformed(format!(
                        "event {index} names no stream: a query decider names the stream of every event it decides"
                    )),
                });
            };
            Ok(RecordedEvent {
                global_position: 0,
                partition: prepared.partition.clone(),
                id: prepared.event_id(&stream, index),
                stream,
                stream_position: 0,
                event_type: event.event_type,
                metadata: prepared.metadata.event_metadata(event.metadata.as_deref()),
                data: event.data,
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
