//! Tags over HTTP: events appended with tags, `POST /streams` under a condition (409
//! `append-condition-failed` with the first conflicting event), and query reads on
//! `GET /log` and the live feed. SQLite only: the store tests run the same on both
//! backends.

use super::live::Feed;
use crate::support::guests;
use crate::support::server::{Db, agent, get, post, url_encoded};
use serde_json::{Value, json};

/// The global positions of a log page's events.
fn positions(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .expect("a page of events")
        .iter()
        .map(|e| e["globalPosition"].as_u64().unwrap())
        .collect()
}

#[test]
fn tagged_appends_conditions_and_query_reads() {
    let db = Db::new();
    let server = db.serve(&[]);
    let http = agent();
    let url = |path: &str| server.url(path);
    let claim = |user: &str| json!({"type": "UsernameClaimed", "data": {"user": user}, "tags": [format!("username:{user}")]});

    // The one-stream shorthand takes tags; an untagged event shows none.
    let body = json!({"expectedVersion": "no-stream", "events": [claim("u1"), {"type": "Noted", "data": {}}]});
    post(&http, &url("/streams/account-a"), &body.to_string(), None).ok();
    let stream = get(&http, &url("/streams/account-a"));
    let events = &stream.ok()["events"];
    assert_eq!(events[0]["tags"], json!(["username:u1"]), "{events}");
    assert!(events[1].get("tags").is_none(), "no tags, no key: {events}");

    // A condition that an event stored after `after` matches: 409, nothing written.
    let query = json!({"items": [{"types": ["UsernameClaimed"], "tags": ["username:u1"]}]});
    let conditional = |stream: &str, after: Option<u64>| {
        let mut condition = json!({"failIfEventsMatch": query});
        if let Some(after) = after {
            condition["after"] = json!(after);
        }
        json!({
            "appends": [{"stream": stream, "expectedVersion": "no-stream", "events": [claim("u1")]}],
            "condition": condition,
        })
        .to_string()
    };
    let refused = post(
        &http,
        &url("/streams"),
        &conditional("account-b", None),
        None,
    );
    let error = refused.error(409, "append-condition-failed");
    assert_eq!(
        error["details"],
        json!({"position": 1, "head": 2}),
        "{error}"
    );
    let refused = post(
        &http,
        &url("/streams"),
        &conditional("account-b", Some(0)),
        None,
    );
    let error = refused.error(409, "append-condition-failed");
    assert_eq!(
        error["details"],
        json!({"position": 1, "after": 0, "head": 2}),
        "{error}"
    );
    assert_eq!(get(&http, &url("/log")).ok()["head"], 2);
    // After the conflicting event, it goes through.
    let accepted = post(
        &http,
        &url("/streams"),
        &conditional("account-b", Some(1)),
        None,
    );
    assert_eq!(accepted.ok()["appends"][0]["firstPosition"], 3);
    let other = json!({"appends": [{"stream": "account-c", "events": [claim("u2")]}]});
    post(&http, &url("/streams"), &other.to_string(), None).ok();

    // Query reads: ?query= (URL-encoded JSON), or ?types=&tags= for one item.
    let by_query = |query: &Value, rest: &str| {
        let path = format!("/log?query={}{rest}", url_encoded(&query.to_string()));
        get(&http, &url(&path))
    };
    let read = by_query(&query, "");
    assert_eq!(positions(read.ok()), [1, 3]);
    assert_eq!(read.ok()["events"][1]["tags"], json!(["username:u1"]));
    let either = json!({"items": [{"tags": ["username:u2"]}, {"types": ["Noted"]}]});
    assert_eq!(positions(by_query(&either, "").ok()), [2, 4]);
    assert_eq!(positions(by_query(&either, "&after=2&limit=1").ok()), [4]);
    let typed = get(&http, &url("/log?types=UsernameClaimed&tags=username:u1"));
    assert_eq!(positions(typed.ok()), [1, 3]);
    assert_eq!(
        positions(get(&http, &url("/log?tags=username:u2")).ok()),
        [4]
    );

    // A bad query is a 400 naming what is wrong.
    let no_items = by_query(&json!({"items": []}), "");
    let error = no_items.error(400, "invalid-event-query");
    assert_eq!(error["details"]["field"], "/items", "{error}");
    let empty_tag = by_query(&json!({"items": [{"tags": ["ok", ""]}]}), "");
    let error = empty_tag.error(400, "invalid-event-query");
    assert_eq!(error["details"]["field"], "/items/0/tags/1", "{error}");
    let not_a_query = by_query(&json!({"items": [{"tag": ["x"]}]}), "");
    let error = not_a_query.error(400, "bad-request");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("query parameter") && message.contains("`tag`"),
        "{error}"
    );
    let both = by_query(&query, "&tags=x");
    both.error(400, "bad-request");
    let in_condition = json!({
        "appends": [{"stream": "account-d", "events": [claim("u3")]}],
        "condition": {"failIfEventsMatch": {"items": [{"types": [""]}]}},
    });
    let refused = post(&http, &url("/streams"), &in_condition.to_string(), None);
    let error = refused.error(400, "invalid-event-query");
    assert_eq!(
        error["details"]["field"], "/condition/failIfEventsMatch/items/0/types/0",
        "{error}"
    );
    let bad_tag = json!({"events": [{"type": "E", "data": {}, "tags": [""]}]});
    let refused = post(
        &http,
        &url("/streams/account-e"),
        &bad_tag.to_string(),
        None,
    );
    let error = refused.error(400, "invalid-append");
    assert_eq!(error["details"]["field"], "/events/0/tags/0", "{error}");

    // The live feed takes the same filters: only the matching events come.
    let path = format!("/log/live?query={}", url_encoded(&query.to_string()));
    let mut feed = Feed::open_at(&server, &path, None);
    assert_eq!(feed.next().0, 1);
    assert_eq!(feed.next().0, 3);
    let later = json!({"appends": [
        {"stream": "account-f", "events": [claim("u4"), claim("u1")]},
    ]});
    post(&http, &url("/streams"), &later.to_string(), None).ok();
    let (position, event) = feed.next();
    assert_eq!((position, &event["tags"]), (6, &json!(["username:u1"])));
    let live_refused = get(&http, &url("/log/live?query=%7B%7D"));
    live_refused.error(400, "bad-request");
    server.stop();
}

#[test]
fn a_query_decider_takes_commands_without_a_stream_and_a_stream_decider_refuses_them() {
    let db = Db::new();
    let courses = guests::wasm_path(guests::COURSES);
    let deploy = format!("courses={}", courses.display());
    let server = db.serve_cart(&["--deploy", &deploy]);
    let http = agent();
    let url = |path: &str| server.url(path);
    let define =
        json!({"type": "DefineCourse", "data": {"courseId": "c1", "name": "Rust", "capacity": 1}});
    let subscribe = |student: &str| {
        json!({"type": "Subscribe", "data": {"courseId": "c1", "studentId": student}}).to_string()
    };
    post(&http, &url("/commands/courses"), &define.to_string(), None).ok();
    let subscribed = post(&http, &url("/commands/courses"), &subscribe("s1"), None);
    let event = &subscribed.ok()["events"][0];
    assert_eq!(event["stream"], "course-c1", "{event}");
    assert_eq!(event["tags"], json!(["course:c1", "student:s1"]), "{event}");
    post(&http, &url("/commands/courses"), &subscribe("s2"), None).error(422, "rejected");
    // The boundary is the decider's: a stream in the path, or none, for the other kind.
    post(
        &http,
        &url("/commands/courses/course-c1"),
        &subscribe("s3"),
        None,
    )
    .error(400, "wrong-boundary");
    post(&http, &url("/commands/cart"), &subscribe("s3"), None).error(400, "wrong-boundary");
    let tagged = get(
        &http,
        &url(&format!("/log?tags={}", url_encoded("student:s1"))),
    );
    assert_eq!(positions(tagged.ok()), [2]);
}
