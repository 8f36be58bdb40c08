//! The timer clock of one workflow: which instances are open, which timers are
//! pending, and the events that say a timer came due.
//!
//! A tracker tails the workflow's own events (its steps and timers come due, found by
//! the tag `workflow:<name>` they all carry, in every partition) from the start of the
//! log when it starts, so it rebuilds what is pending after any restart. When a
//! pending timer's time has come by this node's clock, it appends the timer's
//! `WorkflowTimerDue` to the instance's stream; that event's id is derived from the
//! timer, so however often and on however many nodes it is appended it is stored once,
//! and the workflow's runner fires it (sends its command) when it reaches it in the
//! log, under its lease and checkpoint. A timer of an instance that finished first
//! is dropped, and never fires.

use super::record::{InputRecord, STEPPED, Stored, TIMER_DUE, TimerDue, now_ms, stream_of, tag_of};
use crate::store::{AppendRequest, EventStore, ExpectedVersion, LogFilter, Query, QueryItem};
use crate::sync::lock;
use crate::{Result, chain};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Events of the workflow read per page.
const PAGE: usize = 1000;
/// The shortest pause between two reads of the log, so a busy log is read in pages.
const MIN_PAUSE: Duration = Duration::from_millis(20);
/// How long a tracker waits after a failed read or append before it tries again.
const RETRY: Duration = Duration::from_secs(1);

/// (partition, instance).
type InstanceKey = (String, String);

/// What a tracker knows of its workflow's instances.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    /// Instances with at least one step that have not finished.
    open: HashSet<InstanceKey>,
    /// Instances that finished.
    closed: HashSet<InstanceKey>,
    /// Pending timers: (due at, timer id), soonest first.
    due: BTreeSet<(u64, String)>,
    /// Each pending timer's instance and due time, by id.
    timers: HashMap<String, (InstanceKey, u64)>,
    /// The pending timers of each open instance.
    by_instance: HashMap<InstanceKey, Vec<String>>,
    /// Timers whose due event is in the log (or was just appended by this tracker).
    fired: HashSet<String>,
    /// The global position the tracker has read to.
    read_to: u64,
    /// The last error met, if the tracker has not succeeded since.
    pub(super) last_error: Option<String>,
}

impl Tracked {
    /// Open instances now.
    pub(super) fn open(&self) -> u64 {
        self.open.len() as u64
    }

    /// Finished instances.
    pub(super) fn finished(&self) -> u64 {
        self.closed.len() as u64
    }

    /// Timers pending (scheduled, not yet fired, of open instances).
    pub(super) fn pending(&self) -> u64 {
        self.timers.len() as u64
    }

    /// When the soonest pending timer is due (ms since the Unix epoch).
    pub(super) fn next_due(&self) -> Option<u64> {
        self.due.first().map(|(at, _)| *at)
    }

    fn drop_timer(&mut self, id: &str) {
        if let Some((key, at)) = self.timers.remove(id) {
            self.due.remove(&(at, id.to_owned()));
            if let Some(ids) = self.by_instance.get_mut(&key) {
                ids.retain(|other| other != id);
            }
        }
    }

    /// Take in one of the workflow's events, of `partition`.
    fn learn(&mut self, partition: &str, stored: Stored) {
        match stored {
            Stored::Stepped(step) => {
                let key = (partition.to_owned(), step.instance.clone());
                if self.closed.contains(&key) {
                    return;
                }
                if let InputRecord::Outcome { command_id, .. } = &step.input {
                    self.drop_timer(command_id);
                }
                if step.finished {
                    self.open.remove(&key);
                    for id in self.by_instance.remove(&key).unwrap_or_default() {
                        self.drop_timer(&id);
                    }
                    self.closed.insert(key);
                    return;
                }
                self.open.insert(key.clone());
                for command in &step.commands {
                    if let Some(at) = command.due_at_ms {
                        self.timers.insert(command.id.clone(), (key.clone(), at));
                        self.due.insert((at, command.id.clone()));
                        self.by_instance
                            .entry(key.clone())
                            .or_default()
                            .push(command.id.clone());
                    }
                }
            }
            Stored::TimerDue(due) => {
                self.fired.insert(due.timer);
            }
            Stored::Other => {}
        }
    }

    /// The timers due at `now` whose due event is not yet appended.
    fn due_now(&self, now: u64) -> Vec<(InstanceKey, String, u64)> {
        self.due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter(|(_, id)| !self.fired.contains(id))
            .filter_map(|(at, id)| {
                let (key, _) = self.timers.get(id)?;
                Some((key.clone(), id.clone(), *at))
            })
            .collect()
    }

    /// When the soonest timer not yet fired is due.
    fn next_unfired(&self) -> Option<u64> {
        self.due
            .iter()
            .find(|(_, id)| !self.fired.contains(id))
            .map(|(at, _)| *at)
    }
}

/// Start the tracker of `workflow` on the current tokio runtime; it ends when `stop`
/// turns true.
pub(super) fn spawn(
    workflow: String,
    events: Arc<dyn EventStore>,
    tracked: Arc<Mutex<Tracked>>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        Tracker {
            filter: LogFilter::query(Query::item(
                QueryItem::tags([tag_of(&workflow)]).with_types([STEPPED, TIMER_DUE]),
            )),
            workflow,
            events,
            tracked,
        }
        .run(stop),
    )
}

struct Tracker {
    workflow: String,
    events: Arc<dyn EventStore>,
    tracked: Arc<Mutex<Tracked>>,
    filter: LogFilter,
}

impl Tracker {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut head = self.events.subscribe();
        while !*stop.borrow_and_update() {
            head.borrow_and_update();
            let wait = match self.tick().await {
                Ok(wait) => {
                    lock(&self.tracked).last_error = None;
                    wait
                }
                Err(error) => {
                    let message = chain(&error);
                    tracing::warn!(workflow = %self.workflow, error = %message, "the workflow's timers cannot be read or fired; retrying");
                    lock(&self.tracked).last_error = Some(message);
                    RETRY
                }
            };
            tokio::select! {
                _ = head.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            tokio::time::sleep(MIN_PAUSE).await;
        }
    }

    /// Read what is new, append the due events of the timers whose time has come, and
    /// say how long until the next one is due.
    async fn tick(&self) -> Result<Duration> {
        loop {
            let after = lock(&self.tracked).read_to;
            let events = self.events.read_log(after, &self.filter, PAGE).await?;
            let mut tracked = lock(&self.tracked);
            for event in &events {
                tracked.learn(&event.partition, Stored::read(event)?);
                tracked.read_to = event.global_position;
            }
            if events.len() < PAGE {
                break;
            }
        }
        let now = now_ms();
        let due = lock(&self.tracked).due_now(now);
        for ((partition, instance), timer, due_at_ms) in due {
            let event = TimerDue {
                workflow: self.workflow.clone(),
                instance: instance.clone(),
                timer: timer.clone(),
                due_at_ms,
            }
            .to_event(&partition);
            self.events
                .append(AppendRequest {
                    stream: stream_of(&self.workflow, &instance),
                    expected: ExpectedVersion::Any,
                    events: vec![event],
                    partition,
                })
                .await?;
            lock(&self.tracked).fired.insert(timer);
        }
        let next = lock(&self.tracked).next_unfired();
        Ok(next.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis(at.saturating_sub(now_ms()))
        }))
    }
}
