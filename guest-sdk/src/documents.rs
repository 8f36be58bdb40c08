//! Read-model documents as a projection sees them.
//!
//! [`Documents`] is the raw, text-level access the engine provides (through a host
//! import inside a component, or any native implementation outside one);
//! [`ReadModel`] puts serde on top of it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Text-level access to the read-model documents of the projection being applied.
pub trait Documents {
    /// The document `id` of `collection` (JSON text), if it exists.
    fn get(&mut self, collection: &str, id: &str) -> Option<String>;
    /// Create or replace the document `id` of `collection`.
    fn put(&mut self, collection: &str, id: &str, document: String);
    /// Delete the document `id` of `collection`, if it exists.
    fn delete(&mut self, collection: &str, id: &str);
}

/// In-memory documents keyed by (collection, id): handy for native tests.
impl Documents for BTreeMap<(String, String), String> {
    fn get(&mut self, collection: &str, id: &str) -> Option<String> {
        BTreeMap::get(self, &(collection.to_owned(), id.to_owned())).cloned()
    }

    fn put(&mut self, collection: &str, id: &str, document: String) {
        self.insert((collection.to_owned(), id.to_owned()), document);
    }

    fn delete(&mut self, collection: &str, id: &str) {
        self.remove(&(collection.to_owned(), id.to_owned()));
    }
}

/// Typed access to read-model documents, as JSON through serde.
pub struct ReadModel<'a> {
    documents: &'a mut dyn Documents,
}

impl<'a> ReadModel<'a> {
    /// Typed access over raw documents.
    pub fn new(documents: &'a mut dyn Documents) -> Self {
        ReadModel { documents }
    }

    /// The document `id` of `collection`, if it exists.
    pub fn get<T: DeserializeOwned>(
        &mut self,
        collection: &str,
        id: &str,
    ) -> Result<Option<T>, String> {
        match self.documents.get(collection, id) {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("document {collection}/{id} is not the expected shape: {e}")),
        }
    }

    /// Create or replace the document `id` of `collection`.
    pub fn put<T: Serialize>(
        &mut self,
        collection: &str,
        id: &str,
        document: &T,
    ) -> Result<(), String> {
        let text = serde_json::to_string(document)
            .map_err(|e| format!("document {collection}/{id} cannot be encoded: {e}"))?;
        self.documents.put(collection, id, text);
        Ok(())
    }

    /// Delete the document `id` of `collection`, if it exists.
    pub fn delete(&mut self, collection: &str, id: &str) {
        self.documents.delete(collection, id);
    }
}
