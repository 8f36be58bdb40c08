//! A command's metadata: the envelope's `metadata` taken out of the command, merged
//! with the keys given beside it, and what each event of the command carries.
//!
//! Refold's own keys live under `metadata.refold` (`commandId`, `correlationId`,
//! `causationId`, `traceparent`); every other key is the caller's. Sources are merged
//! key by key, first wins: the keys given beside the envelope (HTTP headers, `--id`,
//! the library's [`CommandRequest::keys`](super::CommandRequest)), then the
//! envelope's `metadata.refold`, then generated: a command id (a UUID v7; such a
//! command has no id a resend could repeat), the correlation id (the command id), the
//! causation id (the command id: its events are caused by the command).
//!
//! An event's metadata is the caller's keys, then the keys the decider gave the event
//! itself (which win over the caller's of the same name), then `refold`, always the
//! host's: a decider cannot forge it.
//!
//! Values other than Refold's keys are kept as their JSON text, never parsed into
//! numbers and back, so they reach the events exactly as sent.

use super::request::RefoldKeys;
use crate::store::validate::{Name, check_name};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The members of a JSON object, in their order, each value as its JSON text.
#[derive(Debug, Clone, Default)]
pub(super) struct Members(pub(super) Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl Members {
    /// The members of the object `text`, or `None` when it is not a JSON object.
    fn of(text: &str) -> Option<Members> {
        serde_json::from_str(text).ok()
    }

    /// Set `key` to `value`: in place when the object has it, else at the end.
    fn set(&mut self, key: String, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = value,
            None => self.0.push((key, value)),
        }
    }

    /// The object as JSON text, with `extra` as its last member.
    fn to_json_with(&self, extra: Option<(&str, &str)>) -> String {
        let mut text = String::from("{");
        let members = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.get()))
            .chain(extra);
        for (index, (key, value)) in members.enumerate() {
            if index > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(key).expect("a string serializes"));
            text.push(':');
            text.push_str(value);
        }
        text.push('}');
        text
    }

    /// The object as a JSON value, for a canonical hash (keys sorted).
    pub(super) fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| {
                    let value = serde_json::from_str(v.get())
                        .unwrap_or_else(|_| serde_json::Value::String(v.get().to_owned()));
                    (k.clone(), value)
                })
                .collect(),
        )
    }
}

/// Why a command envelope cannot be read: what is wrong, and the JSON pointer of the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadEnvelope {
    pub(super) reason: String,
    pub(super) pointer: String,
}

/// A command envelope taken apart.
#[derive(Debug)]
pub(super) struct Envelope {
    /// The command as the decider sees it: the envelope without `metadata` (the
    /// envelope's text unchanged when it has none).
    pub(super) command: String,
    /// The keys of its `metadata.refold`.
    pub(super) keys: RefoldKeys,
    /// The other keys of its `metadata`: the caller's.
    pub(super) user: Members,
}

impl Envelope {
    /// Take `text` (JSON) apart. Text that is not a JSON object, or an object without
    /// `metadata`, is the command as it is.
    pub(super) fn parse(text: &str) -> Result<Envelope, BadEnvelope> {
        let unchanged = || Envelope {
            command: text.to_owned(),
            keys: RefoldKeys::default(),
            user: Members::default(),
        };
        let Some(members) = Members::of(text) else {
            return Ok(unchanged());
        };
        if !members.0.iter().any(|(k, _)| k == "metadata") {
            return Ok(unchanged());
        }
        let (metadata, command): (Vec<_>, Vec<_>) =
            members.0.into_iter().partition(|(k, _)| k == "metadata");
        let metadata = metadata.last().map(|(_, v)| v.get()).unwrap_or("{}");
        let metadata = Members::of(metadata).ok_or_else(|| BadEnvelope {
            reason: "the command's metadata is not a JSON object: send an object of your own keys, with Refold's under 'refold'".to_owned(),
            pointer: "/metadata".to_owned(),
        })?;
        let mut keys = RefoldKeys::default();
        let mut user = Members::default();
        for (key, value) in metadata.0 {
            if key == "refold" {
                keys = refold_keys(value.get())?;
            } else {
                user.set(key, value);
            }
        }
        Ok(Envelope {
            command: Members(command).to_json_with(None),
            keys,
            user,
        })
    }
}

/// The keys of an envelope's `metadata.refold` object.
fn refold_keys(text: &str) -> Result<RefoldKeys, BadEnvelope> {
    let members = Members::of(text).ok_or_else(|| BadEnvelope {
        reason: "metadata.refold is not a JSON object: it holds Refold's keys, commandId, correlationId, causationId and traceparent, each a string".to_owned(),
        pointer: "/metadata/refold".to_owned(),
    })?;
    let mut keys = RefoldKeys::default();
    for (key, value) in members.0 {
        let pointer = format!("/metadata/refold/{}", pointer_token(&key));
        let slot = match key.as_str() {
            "commandId" => &mut keys.command_id,
            "correlationId" => &mut keys.correlation_id,
            "causationId" => &mut keys.causation_id,
            "traceparent" => &mut keys.traceparent,
            "upcastFrom" => {
                return Err(BadEnvelope {
                    reason: "metadata.refold.upcastFrom is set by Refold on upcast events, never by a command".to_owned(),
                    pointer,
                });
            }
            other => {
                return Err(BadEnvelope {
                    reason: format!(
                        "metadata.refold holds Refold's own keys (commandId, correlationId, causationId, traceparent), not '{other}': put keys of your own beside 'refold' in metadata"
                    ),
                    pointer,
                });
            }
        };
        let text: String = serde_json::from_str(value.get()).map_err(|_| BadEnvelope {
            reason: format!("metadata.refold.{key} is not a string"),
            pointer: pointer.clone(),
        })?;
        *slot = Some(text);
    }
    Ok(keys)
}

/// `key` as a token of a JSON pointer (RFC 6901): `~` and `/` escaped.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or `None`
/// when it is not one: lowercase hex fields, neither id all zeros, version `ff`
/// invalid, and a version after `00` may carry more after its flags.
pub(super) fn trace_id(traceparent: &str) -> Option<&str> {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let mut fields = traceparent.splitn(5, '-');
    let (version, trace, parent, flags) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let rest = fields.next();
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && nonzero(trace)
        && hex(parent, 16)
        && nonzero(parent)
        && hex(flags, 2)
        && (rest.is_none() || version != "00");
    valid.then_some(trace)
}

/// The metadata of a command once every source is merged: what each of its events
/// carries. [`to_json`](Self::to_json) gives it as one JSON object.
#[derive(Debug, Clone)]
pub struct CommandMetadata {
    command_id: String,
    id_given: bool,
    correlation_id: String,
    causation_id: String,
    traceparent: Option<String>,
    user: Members,
}

impl CommandMetadata {
    /// Merge `keys` (every source already merged, first wins) and the caller's `user`
    /// keys, generating what no source gave; refuse keys that cannot be used.
    pub(super) fn resolve(keys: RefoldKeys, user: Members) -> Result<CommandMetadata, String> {
        let correlation = keys.correlation();
        let RefoldKeys {
            command_id,
            causation_id,
            traceparent,
            ..
        } = keys;
        if let Some(traceparent) = &traceparent
            && trace_id(traceparent).is_none()
        {
            return Err(format!(
                "the traceparent '{traceparent}' is not a W3C trace context: send 00-<32 hex digits>-<16 hex digits>-<2 hex digits>, lowercase, neither id all zeros"
            ));
        }
        for (name, value) in [
            (Name::CommandId, &command_id),
            (Name::CorrelationId, &correlation),
            (Name::CausationId, &causation_id),
        ] {
            if let Some(value) = value {
                check_name(name, value)?;
            }
        }
        let id_given = command_id.is_some();
        let command_id = command_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        Ok(CommandMetadata {
            correlation_id: correlation.unwrap_or_else(|| command_id.clone()),
            causation_id: causation_id.unwrap_or_else(|| command_id.clone()),
            command_id,
            id_given,
            traceparent,
            user,
        })
    }

    /// The command's id, given or generated.
    pub fn command_id(&self) -> &str {
        &self.command_id
    }

    /// Whether the id was given (then a resend with it gets the first outcome), not
    /// generated.
    pub fn id_given(&self) -> bool {
        self.id_given
    }

    /// The correlation id.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The causation id of the command's events.
    pub fn causation_id(&self) -> &str {
        &self.causation_id
    }

    /// The W3C trace context the command came with, if any.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// The whole metadata as one JSON object: the caller's keys, then `refold`.
    pub fn to_json(&self) -> String {
        self.user
            .to_json_with(Some(("refold", &self.refold_json())))
    }

    /// The caller's keys (a JSON object's members).
    pub(super) fn user(&self) -> &Members {
        &self.user
    }

    /// The metadata an event decided with `own` metadata (JSON text, if any) is
    /// appended with: the caller's keys, the event's own over them, then `refold`,
    /// the host's. Metadata that is not a JSON object is left as it is, for the
    /// store to refuse as the decider's fault.
    pub(super) fn event_metadata(&self, own: Option<&str>) -> String {
        let mut members = self.user.clone();
        if let Some(own) = own {
            let Some(own) = Members::of(own) else {
                return own.to_owned();
            };
            for (key, value) in own.0 {
                if key != "refold" {
                    members.set(key, value);
                }
            }
        }
        members.to_json_with(Some(("refold", &self.refold_json())))
    }

    fn refold_json(&self) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Refold<'a> {
            command_id: &'a str,
            correlation_id: &'a str,
            causation_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            traceparent: Option<&'a str>,
        }
        serde_json::to_string(&Refold {
            command_id: &self.command_id,
            correlation_id: &self.correlation_id,
            causation_id: &self.causation_id,
            traceparent: self.traceparent.as_deref(),
        })
        .expect("strings serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn an_envelope_without_metadata_is_the_command_unchanged() {
        for text in [
            r#"{ "type": "A",  "data": {"n": 1.50} }"#,
            "[1, 2]",
            "\"x\"",
        ] {
            let envelope = Envelope::parse(text).unwrap();
            assert_eq!(envelope.command, text);
            assert_eq!(envelope.keys, RefoldKeys::default());
        }
    }

    #[test]
    fn metadata_is_taken_out_in_order_and_split_into_refold_and_user_keys() {
        let envelope = Envelope::parse(
            r#"{"type":"A","metadata":{"by":"ann","refold":{"commandId":"k-1","traceparent":"t"},"n":1.50},"data":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(envelope.command, r#"{"type":"A","data":{"x":1}}"#);
        assert_eq!(envelope.keys.command_id.as_deref(), Some("k-1"));
        assert_eq!(envelope.keys.traceparent.as_deref(), Some("t"));
        assert_eq!(envelope.user.to_json_with(None), r#"{"by":"ann","n":1.50}"#);
    }

    #[test]
    fn a_bad_metadata_names_its_field() {
        for (text, pointer) in [
            (r#"{"metadata":[1]}"#, "/metadata"),
            (r#"{"metadata":{"refold":1}}"#, "/metadata/refold"),
            (
                r#"{"metadata":{"refold":{"commandId":1}}}"#,
                "/metadata/refold/commandId",
            ),
            (
                r#"{"metadata":{"refold":{"a/b":"x"}}}"#,
                "/metadata/refold/a~1b",
            ),
            (
                r#"{"metadata":{"refold":{"upcastFrom":"x"}}}"#,
                "/metadata/refold/upcastFrom",
            ),
        ] {
            assert_eq!(
                Envelope::parse(text).unwrap_err().pointer,
                pointer,
                "{text}"
            );
        }
    }

    #[test]
    fn a_traceparent_gives_its_trace_id_and_a_malformed_one_none() {
        assert_eq!(
            trace_id(TRACEPARENT),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "a later version may carry more"
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_first_source_wins_key_by_key_and_the_rest_is_generated() {
        let headers = RefoldKeys {
            traceparent: Some(TRACEPARENT.to_owned()),
            ..RefoldKeys::default()
        };
        let envelope = RefoldKeys {
            command_id: Some("k-1".to_owned()),
            correlation_id: Some("from-envelope".to_owned()),
            ..RefoldKeys::default()
        };
        let merged = CommandMetadata::resolve(headers.or(envelope), Members::default()).unwrap();
        assert_eq!(merged.command_id(), "k-1");
        assert!(merged.id_given());
        assert_eq!(merged.correlation_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(merged.causation_id(), "k-1");
        assert_eq!(merged.traceparent(), Some(TRACEPARENT));

        let generated =
            CommandMetadata::resolve(RefoldKeys::default(), Members::default()).unwrap();
        assert!(!generated.id_given());
        assert_eq!(generated.correlation_id(), generated.command_id());
        assert_eq!(generated.causation_id(), generated.command_id());
    }

    #[test]
    fn unusable_keys_are_refused() {
        let keys = |command_id: &str, traceparent: Option<&str>| RefoldKeys {
            command_id: Some(command_id.to_owned()),
            traceparent: traceparent.map(str::to_owned),
            ..RefoldKeys::default()
        };
        for bad in [keys("", None), keys("a\nb", None), keys("k", Some("00-zz"))] {
            assert!(
                CommandMetadata::resolve(bad.clone(), Members::default()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_event_keeps_its_own_keys_over_the_callers_and_never_its_own_refold() {
        let user = Envelope::parse(r#"{"metadata":{"by":"ann","tenant":"t-1"}}"#)
            .unwrap()
            .user;
        let keys = RefoldKeys {
            command_id: Some("k-1".to_owned()),
            ..RefoldKeys::default()
        };
        let metadata = CommandMetadata::resolve(keys, user).unwrap();
        let refold = r#""refold":{"commandId":"k-1","correlationId":"k-1","causationId":"k-1"}"#;
        assert_eq!(
            metadata.event_metadata(Some(
                r#"{"by":"decider","refold":{"commandId":"forged"},"n":1}"#
            )),
            format!(r#"{{"by":"decider","tenant":"t-1","n":1,{refold}}}"#)
        );
        assert_eq!(
            metadata.event_metadata(None),
            format!(r#"{{"by":"ann","tenant":"t-1",{refold}}}"#)
        );
        assert_eq!(metadata.to_json(), metadata.event_metadata(None));
        assert_eq!(
            metadata.event_metadata(Some("null")),
            "null",
            "left for the store to refuse"
        );
    }
}
