//! What a file handed to the runtime is, when it is not a WebAssembly component.
//!
//! Deploying the wrong file is a common slip: a projection built for the wrong target
//! (a core module), the native binary next to it, a text file. The compiler's own
//! error for those is a dump of the bytes it expected; [`check`] looks at the first
//! bytes instead, so the error says in one sentence what the file is.

use crate::{Error, Result};

/// The header of every WebAssembly binary.
const MAGIC: &[u8] = b"\0asm";
/// The version of a core module (1), after the magic.
const CORE_MODULE: &[u8] = &[1, 0, 0, 0];
/// The version and layer of a component (`0d 00 01 00`), after the magic.
const COMPONENT: &[u8] = &[0x0d, 0, 1, 0];

/// `Ok` when `bytes` start as a component does (whether it compiles is the compiler's
/// to say); else [`Error::NotAComponent`] naming what they are.
pub(crate) fn check(module: &str, bytes: &[u8]) -> Result<()> {
    let what = match describe(bytes) {
        None => return Ok(()),
        Some(what) => what,
    };
    Err(Error::NotAComponent {
        module: module.to_owned(),
        what,
    })
}

/// What `bytes` are, or `None` for a component.
fn describe(bytes: &[u8]) -> Option<String> {
    if let Some(version) = bytes.strip_prefix(MAGIC) {
        return match version.get(..4) {
            Some(COMPONENT) => None,
            Some(CORE_MODULE) => Some(
                "a core WebAssembly module (what wasm32-unknown-unknown and wasm32-wasip1 builds make), not a component".to_owned(),
            ),
            _ => Some(format!(
                "WebAssembly of an unknown version (header {})",
                hex(&bytes[..bytes.len().min(8)])
            )),
        };
    }
    let known = [
        (&b"\x7fELF"[..], "an ELF executable or library"),
        (&b"MZ"[..], "a Windows executable"),
        (&b"\xcf\xfa\xed\xfe"[..], "a Mach-O executable"),
        (&b"PK\x03\x04"[..], "a zip archive"),
        (&b"\x1f\x8b"[..], "a gzip archive"),
    ];
    if let Some((_, what)) = known.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some((*what).to_owned());
    }
    if bytes.is_empty() {
        return Some("an empty file".to_owned());
    }
    let head = &bytes[..bytes.len().min(40)];
    match std::str::from_utf8(head) {
        Ok(text) if !text.contains(|c: char| c.is_control() && !c.is_whitespace()) => {
            let start = text.trim_start();
            if start.starts_with("(module") || start.starts_with("(component") {
                return Some("WebAssembly text (.wat), not a binary component".to_owned());
            }
            let line = start.lines().next().unwrap_or_default();
            Some(format!("text (starting {line:?})"))
        }
        _ => Some(format!(
            "not WebAssembly (it starts with bytes {}, not the `\\0asm` header)",
            hex(&bytes[..bytes.len().min(4)])
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn each_kind_of_file_is_named() {
        let cases: [(&[u8], Option<&str>); 9] = [
            (b"\0asm\x0d\0\x01\0rest", None),
            (b"\0asm\x01\0\0\0", Some("a core WebAssembly module")),
            (
                b"\0asm\x02\0",
                Some("WebAssembly of an unknown version (header 00 61 73 6d 02 00)"),
            ),
            (b"\x7fELF\x02\x01", Some("an ELF executable or library")),
            (b"", Some("an empty file")),
            (b"  (module (func))", Some("WebAssembly text (.wat)")),
            (
                b"hello world\nsecond line",
                Some("text (starting \"hello world\")"),
            ),
            (
                &[0x89, b'P', b'N', b'G', 0x0d],
                Some("not WebAssembly (it starts with bytes 89 50 4e 47"),
            ),
            (b"PK\x03\x04", Some("a zip archive")),
        ];
        for (bytes, expected) in cases {
            let what = describe(bytes);
            match expected {
                None => assert_eq!(what, None, "{bytes:?}"),
                Some(start) => {
                    let what = what.unwrap_or_default();
                    assert!(what.starts_with(start), "{bytes:?}: {what}");
                }
            }
        }
    }
}
