//! Snapshot projections: a read model of each stream's current state, built by a
//! decider's own `evolve`, with no projection module written.
//!
//! For one decider and one stream category, the document of stream `s` in the
//! collection named after the category is the decider's state of `s`. Each batch folds
//! a stream's new events into its stored state (or the initial state), so the read
//! model always equals what the command handler would load. States cross as the
//! guest's bytes; a read-model document is JSON text, so a state that is not UTF-8
//! JSON (the Rust SDK encodes JSON) is a clear error rather than a mangled document.

use super::ProjectionLogic;
use crate::commands::DeciderLogic;
use crate::runtime::Documents;
use crate::store::{BuiltBy, LogFilter, RecordedEvent};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// The states of one category's streams, folded by a decider.
pub struct StreamSnapshots {
    decider: Arc<dyn DeciderLogic>,
    category: String,
    name: String,
    identity: String,
}

impl StreamSnapshots {
    /// The states of the streams of `category` (e.g. `cart`) as `decider` folds them,
    /// as the projection `<decider>:<category>` with one collection named `category`.
    pub fn new(decider: Arc<dyn DeciderLogic>, category: impl Into<String>) -> Self {
        let category = category.into();
        StreamSnapshots {
            name: Self::name_for(decider.name(), &category),
            identity: format!("snapshot:{}:{category}", decider.identity()),
            decider,
            category,
        }
    }

    /// The name of the snapshot projection of `decider` over `category`.
    pub fn name_for(decider: &str, category: &str) -> String {
        format!("{decider}:{category}")
    }

    /// The collection the states are kept in: the category's name.
    pub fn collection(&self) -> &str {
        &self.category
    }
}

impl ProjectionLogic for StreamSnapshots {
    fn name(&self) -> &str {
        &self.name
    }

    fn built_by(&self) -> BuiltBy {
        BuiltBy {
            module: self.decider.name().to_owned(),
            version: self.decider.version(),
            identity: self.identity.clone(),
            upcasters: String::new(),
        }
    }

    fn filter(&self) -> Result<LogFilter> {
        Ok(LogFilter {
            category: Some(self.category.clone()),
            ..LogFilter::default()
        })
    }

    fn apply(&self, events: &[RecordedEvent], documents: &mut Box<dyn Documents>) -> Result<()> {
        let mut streams: Vec<(&str, Vec<RecordedEvent>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for event in events {
            let slot = *index.entry(&event.stream).or_insert_with(|| {
                streams.push((&event.stream, Vec::new()));
                streams.len() - 1
            });
            streams[slot].1.push(event.clone());
        }
        for (stream, events) in streams {
            let state = match documents.get(&self.category, stream) {
                Some(document) => document.into_bytes(),
                None => self.decider.initial_state()?,
            };
            let state = self.decider.evolve(&state, &events)?;
            let document = json_text(state).map_err(|reason| Error::StateNotJson {
                module: self.decider.name().to_owned(),
                stream: stream.to_owned(),
                reason,
            })?;
            documents.put(&self.category, stream, document);
        }
        Ok(())
    }
}

/// The state as JSON text, or why it is not.
fn json_text(state: Vec<u8>) -> std::result::Result<String, String> {
    let text = String::from_utf8(state).map_err(|e| format!("not UTF-8: {e}"))?;
    crate::json::check_json(&text).map_err(|e| format!("not JSON: {e}"))?;
    Ok(text)
}
