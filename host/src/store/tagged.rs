//! How tags are kept and queried in SQL, the same on both backends.
//!
//! An event's tags are stored twice: in its row (`events.tags`, the tags joined by
//! U+001F, a control character no tag may hold; `NULL` for none), so a read gives them
//! back in the order appended without a join, and one row per tag in `event_tags`
//! (`tag`, `global_position`; primary key in that order), a plain B-tree that query
//! reads and append conditions walk. (Full-text or GIN-style indexes over the events
//! themselves are known to collapse at a few million events; a B-tree seek per tag
//! does not.)
//!
//! A query becomes one arm per item, each walking one index in log order up to the
//! read's limit: an item with tags seeks its first tag in `event_tags` and checks the
//! others by primary key; an item without tags walks the events (by type when it names
//! one). The arms are combined with `UNION`, so an event matching several items comes
//! once, and the events are read by position. The SQL is written here once, with
//! numbered placeholders in each backend's spelling (`?1` for SQLite, `$1` for
//! PostgreSQL).

use super::{LogFilter, Query};

/// What joins an event's tags in its row.
const SEPARATOR: char = '\u{1f}';

/// An event's tags as its row keeps them: joined, `None` when it has none.
pub(super) fn joined(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| tags.join(&SEPARATOR.to_string()))
}

/// An event's tags from its row, as appended.
pub(super) fn split(joined: Option<String>) -> Vec<String> {
    match joined {
        Some(joined) if !joined.is_empty() => joined.split(SEPARATOR).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// One value bound to a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arg<'a> {
    /// Text: a tag, a type, a partition, a category.
    Text(&'a str),
    /// An integer: a position or a limit.
    Int(i64),
}

/// A statement and the values of its placeholders, in order.
#[derive(Debug)]
pub(super) struct Select<'a> {
    /// The SQL.
    pub(super) sql: String,
    /// `args[i]` binds placeholder `i + 1`.
    pub(super) args: Vec<Arg<'a>>,
}

/// The events a query read returns (`columns` of `events`, in log order): those after
/// `after` that pass `filter`, whose query must not match every event, at most `limit`.
/// `prefix` is the placeholder's spelling (`?` or `$`).
pub(super) fn read<'a>(
    columns: &str,
    after: i64,
    filter: &'a LogFilter,
    limit: i64,
    prefix: char,
) -> Select<'a> {
    let query = filter
        .query
        .as_ref()
        .expect("a query read has a query; a filter without one reads the log");
    let mut select = Builder::new(prefix);
    let positions = select.union(query, filter, after, limit);
    let limit = select.arg(Arg::Int(limit));
    select.finish(format!(
        "SELECT {columns} FROM events WHERE global_position IN ({positions})
         ORDER BY global_position LIMIT {limit}"
    ))
}

/// The global position of the first event after `after` (in `partition`, if given)
/// that `query` matches: one row, `NULL` when there is none.
pub(super) fn first_match<'a>(
    query: &'a Query,
    partition: Option<&'a str>,
    after: i64,
    prefix: char,
) -> Select<'a> {
    let mut select = Builder::new(prefix);
    let extras = Extras {
        partition,
        category: None,
        types: &[],
    };
    let positions = select.union_with(query, &extras, after, 1);
    select.finish(format!(
        "SELECT MIN(global_position) FROM ({positions}) AS matching"
    ))
}

/// Conditions every arm adds besides its item's: the read's other filters.
struct Extras<'a> {
    partition: Option<&'a str>,
    category: Option<&'a str>,
    types: &'a [String],
}

impl Extras<'_> {
    fn any(&self) -> bool {
        self.partition.is_some() || self.category.is_some() || !self.types.is_empty()
    }
}

/// Writes a statement, numbering its placeholders.
struct Builder<'a> {
    prefix: char,
    args: Vec<Arg<'a>>,
}

impl<'a> Builder<'a> {
    fn new(prefix: char) -> Self {
        Builder {
            prefix,
            args: Vec::new(),
        }
    }

    /// Bind `value` to the next placeholder, and give that placeholder.
    fn arg(&mut self, value: Arg<'a>) -> String {
        self.args.push(value);
        format!("{}{}", self.prefix, self.args.len())
    }

    /// `(?, ?, …)` for `values`.
    fn list(&mut self, values: &'a [String]) -> String {
        let placeholders: Vec<String> = values.iter().map(|v| self.arg(Arg::Text(v))).collect();
        format!("({})", placeholders.join(", "))
    }

    fn union(&mut self, query: &'a Query, filter: &'a LogFilter, after: i64, limit: i64) -> String {
        let extras = Extras {
            partition: filter.partition.as_deref(),
            category: filter.category.as_deref(),
            types: &filter.event_types,
        };
        self.union_with(query, &extras, after, limit)
    }

    /// The positions of the events after `after` matching any item of `query` and
    /// `extras`, at most `limit` per item: one arm per item, combined with `UNION`.
    fn union_with(
        &mut self,
        query: &'a Query,
        extras: &Extras<'a>,
        after: i64,
        limit: i64,
    ) -> String {
        let arms: Vec<String> = query
            .items
            .iter()
            .enumerate()
            .map(|(n, item)| {
                let arm = self.arm(&item.types, &item.tags, extras, after, limit);
                format!("SELECT global_position FROM ({arm}) AS arm{n}")
            })
            .collect();
        arms.join(" UNION ")
    }

    /// One item's arm: the positions, in log order, of at most `limit` events after
    /// `after` of one of `types` (any when empty) carrying every one of `tags`.
    fn arm(
        &mut self,
        types: &'a [String],
        tags: &'a [String],
        extras: &Extras<'a>,
        after: i64,
        limit: i64,
    ) -> String {
        let mut conditions = Vec::new();
        let (from, position) = match tags.split_first() {
            Some((first, others)) => {
                conditions.push(format!("t0.tag = {}", self.arg(Arg::Text(first))));
                for (n, tag) in (1..).zip(others) {
                    let tag = self.arg(Arg::Text(tag));
                    conditions.push(format!(
                        "EXISTS (SELECT 1 FROM event_tags t{n} WHERE t{n}.tag = {tag} \
                         AND t{n}.global_position = t0.global_position)"
                    ));
                }
                let from = if types.is_empty() && !extras.any() {
                    "event_tags t0"
                } else {
                    "event_tags t0 JOIN events e ON e.global_position = t0.global_position"
                };
                (from, "t0.global_position")
            }
            None => ("events e", "e.global_position"),
        };
        let after = self.arg(Arg::Int(after));
        conditions.push(format!("{position} > {after}"));
        match types {
            [] => {}
            [one] => {
                let one = self.arg(Arg::Text(one));
                conditions.push(format!("e.event_type = {one}"));
            }
            many => {
                let list = self.list(many);
                conditions.push(format!("e.event_type IN {list}"));
            }
        }
        if let Some(partition) = extras.partition {
            let partition = self.arg(Arg::Text(partition));
            conditions.push(format!("e.partition = {partition}"));
        }
        if let Some(category) = extras.category {
            let category = self.arg(Arg::Text(category));
            conditions.push(format!("e.category = {category}"));
        }
        if !extras.types.is_empty() {
            let list = self.list(extras.types);
            conditions.push(format!("e.event_type IN {list}"));
        }
        let limit = self.arg(Arg::Int(limit));
        format!(
            "SELECT {position} AS global_position FROM {from} WHERE {} ORDER BY {position} LIMIT {limit}",
            conditions.join(" AND ")
        )
    }

    fn finish(self, sql: String) -> Select<'a> {
        Select {
            sql,
            args: self.args,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QueryItem;

    #[test]
    fn tags_survive_their_row_in_order_and_none_is_null() {
        let tags = vec!["course:c1".to_owned(), "a b".to_owned(), "x".to_owned()];
        assert_eq!(split(joined(&tags)), tags);
        assert_eq!(joined(&[]), None);
        assert_eq!(split(None), Vec::<String>::new());
    }

    #[test]
    fn a_query_read_has_an_arm_per_item_and_numbers_its_placeholders() {
        let filter = LogFilter::query(
            Query::item(QueryItem::tags(["a", "b"])).or(QueryItem::types(["T", "U"])),
        )
        .in_partition("p");
        let select = read("global_position", 5, &filter, 10, '$');
        assert_eq!(select.sql.matches(" UNION ").count(), 1, "{}", select.sql);
        assert_eq!(
            select.args,
            vec![
                Arg::Text("a"),
                Arg::Text("b"),
                Arg::Int(5),
                Arg::Text("p"),
                Arg::Int(10),
                Arg::Int(5),
                Arg::Text("T"),
                Arg::Text("U"),
                Arg::Text("p"),
                Arg::Int(10),
                Arg::Int(10),
            ]
        );
        assert!(select.sql.contains("$11"), "{}", select.sql);
        assert!(!select.sql.contains("$12"), "{}", select.sql);
    }
}
