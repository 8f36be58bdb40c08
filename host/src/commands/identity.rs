//! A command's identity when it was sent with an id: the hash a resend must match,
//! and the ids of its events, derived from the id so that a resend decided again
//! (racing the first, say) gets the same ids, which the store's unique event ids
//! refuse to append twice.

use super::metadata::Members;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A command sent with an id.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    /// The id.
    pub(super) command_id: String,
    /// The hash of the command as sent: decider, stream, the command the decider
    /// reads and the caller's metadata, each in a canonical form (object keys sorted,
    /// no whitespace), so a resend formatted otherwise still matches. Refold's own
    /// keys are not part of it: a resend may come with another trace.
    pub(super) fingerprint: String,
}

impl Identity {
    /// The identity of `command` (JSON text) with the caller's metadata `user`, sent
    /// with `command_id` to `decider` for `stream`.
    pub(super) fn new(
        command_id: &str,
        decider: &str,
        stream: &str,
        command: &str,
        user: &Members,
    ) -> Identity {
        let command = serde_json::from_str::<serde_json::Value>(command)
            .unwrap_or_else(|_| serde_json::Value::String(command.to_owned()));
        let canonical = serde_json::json!([decider, stream, command, user.to_value()]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        Identity {
            command_id: command_id.to_owned(),
            fingerprint: hex(&digest),
        }
    }

    /// The id of the command's event at `index` (from 0) in its append: a UUID v8
    /// from SHA-256 of (decider, partition, stream, command id, index).
    pub(super) fn event_id(
        &self,
        decider: &str,
        partition: &str,
        stream: &str,
        index: u64,
    ) -> Uuid {
        derived_uuid(
            b"refold:event-id:1",
            &[decider, partition, stream, &self.command_id],
            &[index],
        )
    }
}

/// A UUID v8 from SHA-256 of `label`, each of `fields` (length-prefixed, so no two
/// lists of fields collide) and `numbers`: the same inputs give the same id on any
/// node, after any restart.
pub(crate) fn derived_uuid(label: &[u8], fields: &[&str], numbers: &[u64]) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(label);
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    for number in numbers {
        hash.update(number.to_be_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
            let _ = write!(text, "{b:02x}");
            text
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_formatting_and_key_order_but_not_the_command() {
        let none = Members::default();
        let a = Identity::new(
            "k",
            "cart",
            "cart-1",
            r#"{"type":"A","data":{"n":1,"m":2}}"#,
            &none,
        );
        let b = Identity::new(
            "k",
            "cart",
            "cart-1",
            r#"{ "data": {"m": 2, "n": 1}, "type": "A" }"#,
            &none,
        );
        assert_eq!(a.fingerprint, b.fingerprint);
        for other in [
            Identity::new(
                "k",
                "cart",
                "cart-1",
                r#"{"type":"A","data":{"n":2,"m":2}}"#,
                &none,
            ),
            Identity::new(
                "k",
                "cart",
                "cart-2",
                r#"{"type":"A","data":{"n":1,"m":2}}"#,
                &none,
            ),
            Identity::new(
                "k",
                "other",
                "cart-1",
                r#"{"type":"A","data":{"n":1,"m":2}}"#,
                &none,
            ),
        ] {
            assert_ne!(a.fingerprint, other.fingerprint);
        }
    }

    #[test]
    fn event_ids_are_version_8_and_differ_by_every_part() {
        let identity = Identity::new("k", "cart", "cart-1", "{}", &Members::default());
        let id = identity.event_id("cart", "default", "cart-1", 0);
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id, identity.event_id("cart", "default", "cart-1", 0));
        let others = [
            identity.event_id("cart", "default", "cart-1", 1),
            identity.event_id("cart", "other", "cart-1", 0),
            identity.event_id("cart", "default", "cart-2", 0),
            identity.event_id("carts", "default", "cart-1", 0),
            Identity::new("k2", "cart", "cart-1", "{}", &Members::default())
                .event_id("cart", "default", "cart-1", 0),
        ];
        for other in others {
            assert_ne!(id, other);
        }
    }
}
