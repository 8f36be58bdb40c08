//! Queries over tagged events and the condition of an append (the Dynamic Consistency
//! Boundary specification, dcb.events).
//!
//! An event may carry tags (`course:c1`, `student:s7`) besides its stream. A
//! [`Query`] picks events by type and tags across every stream: it is a list of
//! [`QueryItem`]s combined with OR, and an item matches an event whose type is one of
//! the item's types (when it names any) AND which carries every one of the item's tags
//! (when it names any). A decision that spans entities reads the events its query
//! matches, decides, and appends under an [`AppendCondition`]: refused if an event
//! matching the same query was stored after the position it read. The check and the
//! write are one transaction, so two appends that would each break the other's
//! condition never both commit.
//!
//! The JSON shape of a query is the specification's:
//! `{"items": [{"types": [..], "tags": [..]}]}`, both lists optional in an item.

use serde::{Deserialize, Serialize};

/// The most tags one event may carry.
pub const MAX_TAGS: usize = 32;

/// The longest tag, in bytes. Tags are also printable: no control characters.
pub const MAX_TAG_BYTES: usize = 200;

/// The most items one query may have.
pub const MAX_QUERY_ITEMS: usize = 64;

/// The most event types one query item may name.
pub const MAX_QUERY_TYPES: usize = 64;

/// Which events a read or an append condition is about: those matching any of its
/// items. [`Query::all`] matches every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The items, combined with OR; at least one.
    pub items: Vec<QueryItem>,
}

/// One item of a [`Query`]: events of one of `types` (any type when empty) that carry
/// every tag of `tags` (no tag needed when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryItem {
    /// The event types the item matches; empty: every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// The tags an event must all carry to match; empty: no tag needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Query {
    /// The query that matches every event: one item naming no type and no tag.
    pub fn all() -> Query {
        Query {
            items: vec![QueryItem::default()],
        }
    }

    /// A query of one item.
    pub fn item(item: QueryItem) -> Query {
        Query { items: vec![item] }
    }

    /// The same query with one more item (OR).
    pub fn or(mut self, item: QueryItem) -> Query {
        self.items.push(item);
        self
    }

    /// Whether it matches every event: one of its items names no type and no tag.
    pub fn matches_all(&self) -> bool {
        self.items.iter().any(QueryItem::matches_all)
    }

    /// Whether an event of `event_type` carrying `tags` matches it.
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        self.items.iter().any(|item| item.matches(event_type, tags))
    }
}

impl QueryItem {
    /// An item matching events of any of `types`.
    pub fn types<S: Into<String>>(types: impl IntoIterator<Item = S>) -> QueryItem {
        QueryItem::default().with_types(types)
    }

    /// An item matching events that carry every one of `tags`.
    pub fn tags<S: Into<String>>(tags: impl IntoIterator<Item = S>) -> QueryItem {
        QueryItem::default().with_tags(tags)
    }

    /// The same item, matching only events of one of `types`.
    pub fn with_types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> QueryItem {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }

    /// The same item, matching only events that carry every one of `tags`.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> QueryItem {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Whether it matches every event: it names no type and no tag.
    pub fn matches_all(&self) -> bool {
        self.types.is_empty() && self.tags.is_empty()
    }

    /// Whether an event of `event_type` carrying `tags` matches it.
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && self.tags.iter().all(|tag| tags.contains(tag))
    }
}

/// The condition of an append: refused, with
/// [`Error::AppendConditionFailed`](crate::Error::AppendConditionFailed), if an event
/// matching `fail_if_events_match` is stored after `after` (or at all, without
/// `after`). Checked in the append's transaction, before its events are written.
///
/// JSON: `{"failIfEventsMatch": QUERY, "after"?: N, "partition"?: NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendCondition {
    /// The events whose presence refuses the append.
    pub fail_if_events_match: Query,
    /// Only events after this global position count (typically the position the
    /// decision read up to); `None`: every event counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Only events of this partition count; `None`: events of every partition (the
    /// specification knows no partitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

impl AppendCondition {
    /// Refuse the append if any event matching `query` is stored at all.
    pub fn fail_if_events_match(query: Query) -> AppendCondition {
        AppendCondition {
            fail_if_events_match: query,
            after: None,
            partition: None,
        }
    }

    /// The same condition, counting only events after global position `after`.
    pub fn after(mut self, after: u64) -> AppendCondition {
        self.after = Some(after);
        self
    }

    /// The same condition, counting only events of `partition`.
    pub fn in_partition(mut self, partition: impl Into<String>) -> AppendCondition {
        self.partition = Some(partition.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn items_are_ored_and_an_items_tags_anded() {
        let query = Query::item(QueryItem::tags(["course:c1", "student:s1"]))
            .or(QueryItem::types(["CourseRenamed"]).with_tags(["course:c2"]));
        assert!(query.matches("Subscribed", &tags(&["student:s1", "course:c1", "x"])));
        assert!(!query.matches("Subscribed", &tags(&["course:c1"])));
        assert!(query.matches("CourseRenamed", &tags(&["course:c2"])));
        assert!(!query.matches("CourseDefined", &tags(&["course:c2"])));
        assert!(!query.matches("CourseRenamed", &[]));
        assert!(!query.matches_all());
        assert!(Query::all().matches("Anything", &[]));
        assert!(Query::all().matches_all());
    }

    #[test]
    fn the_json_shape_is_the_specifications() {
        let query: Query =
            serde_json::from_str(r#"{"items": [{"types": ["A"], "tags": ["t:1"]}, {}]}"#).unwrap();
        assert_eq!(
            query,
            Query::item(QueryItem::types(["A"]).with_tags(["t:1"])).or(QueryItem::default())
        );
        assert_eq!(
            serde_json::to_string(&Query::all()).unwrap(),
            r#"{"items":[{}]}"#
        );
        let condition: AppendCondition = serde_json::from_str(
            r#"{"failIfEventsMatch": {"items": [{"tags": ["u"]}]}, "after": 7}"#,
        )
        .unwrap();
        assert_eq!(
            condition,
            AppendCondition::fail_if_events_match(Query::item(QueryItem::tags(["u"]))).after(7)
        );
        let unknown = serde_json::from_str::<Query>(r#"{"items": [{"type": ["A"]}]}"#);
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `type`")
        );
    }
}
