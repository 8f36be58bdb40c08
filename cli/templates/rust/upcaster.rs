//! {{name}}: an upcaster. Version 1 of `Added` carried its amount as `value`; readers
//! see every `Added` with `amount`. Stored events are never rewritten.

use refold_guest::{Event as Envelope, Upcaster};
use serde::{Deserialize, Serialize};

/// `Added` as stored: either version.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Stored {
    /// `Added`, version 1 or 2.
    Added(Either),
}

/// The data of an `Added`, in its old or its current shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Either {
    /// Version 1: `{"value": 5}`.
    Old {
        /// How much was added.
        value: i64,
    },
    /// Version 2: `{"amount": 5}`, already current.
    Current {
        /// How much was added.
        amount: i64,
    },
}

/// `Added` as readers see it.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Current {
    /// `amount` was added.
    Added {
        /// How much was added.
        amount: i64,
    },
}

/// The upcaster.
pub struct AddedV1ToV2;

impl Upcaster for AddedV1ToV2 {
    type Stored = Stored;
    type Current = Current;

    const EVENT_TYPES: &'static [&'static str] = &["Added"];

    fn upcast(stored: Stored, _envelope: &Envelope) -> Result<Vec<Current>, String> {
        let Stored::Added(Either::Old { value: amount } | Either::Current { amount }) = stored;
        Ok(vec![Current::Added { amount }])
    }
}

refold_guest::export_upcaster!(AddedV1ToV2);
